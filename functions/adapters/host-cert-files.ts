/**
 * The certificate pairs nginx reads on the web host.
 *
 * Each installed pair lives in its own version directory; `<certsDir>/<domain>` is a symlink to the
 * current one. Installing writes and fsyncs the new directory, then renames a new symlink over the
 * live one: rename is atomic, so nginx (or anyone) sees the old pair or the new pair, never a mix
 * and never a partial file, whenever the agent is killed.
 */

import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { chown, lstat, mkdir, open, readdir, readFile, realpath, rename, rm, symlink, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  HostFile, hostDomainDir, hostFilePath, hostLinkTempPath, hostVersionDir, hostVersionFilePath, hostVersionLinkTarget, hostVersionsDir, isHostVersionName,
} from '../core/layout.js';
import type { HostFiles, InstalledFiles } from '../workflows/sync-ports.js';

export interface FileOwner {
  uid: number;
  gid: number;
}

export class HostCertificateFiles implements HostFiles {
  constructor(
    readonly certsDir: string,
    private readonly owner: FileOwner | null = null,
  ) {}

  /** Returns the pair nginx currently reads for `domain`, or null when there is none (or it is incomplete). */
  async current(domain: string): Promise<InstalledFiles | null> {
    try {
      const [certificatePem, keyPem] = await Promise.all([
        readFile(hostFilePath(this.certsDir, domain, HostFile.fullChain), 'utf8'),
        readFile(hostFilePath(this.certsDir, domain, HostFile.key), 'utf8'),
      ]);
      return { certificatePem, keyPem, version: await this.linkTarget(domain) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Returns the path nginx's ssl_certificate names for `domain`. */
  certificatePath(domain: string): string {
    return hostFilePath(this.certsDir, domain, HostFile.fullChain);
  }

  /** Returns `path` with every symlink resolved, or `path` itself when it cannot be resolved. */
  async realPath(path: string): Promise<string> {
    return realpath(path).catch(() => path);
  }

  /**
   * Installs a pair for `domain` atomically. Returns the version installed (the new symlink
   * target) and what `restore` needs to undo it: the previous symlink target, or, for a plain
   * directory from before this agent, the version it was moved to (null: nothing was installed).
   * Keys are written 0600, certificates 0644, directories 0755.
   */
  async install(domain: string, certificatePem: string, keyPem: string): Promise<{ previous: string | null; version: string }> {
    const version = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    await this.makeDir(hostVersionsDir(this.certsDir, domain));
    await this.makeDir(hostVersionDir(this.certsDir, domain, version));
    await this.writeDurable(hostVersionFilePath(this.certsDir, domain, version, HostFile.key), keyPem, 0o600);
    await this.writeDurable(hostVersionFilePath(this.certsDir, domain, version, HostFile.fullChain), certificatePem, 0o644);
    await syncDir(hostVersionDir(this.certsDir, domain, version));
    const target = hostVersionLinkTarget(domain, version);
    return { previous: await this.pointTo(domain, target), version: target };
  }

  /**
   * Takes `domain` out of nginx's sight (`--prune`): unlinks its symlink, or moves a plain directory
   * under .versions. Returns what `restore` needs to put it back (null: there was nothing).
   */
  async detach(domain: string): Promise<string | null> {
    const live = hostDomainDir(this.certsDir, domain);
    const previous = (await this.linkTarget(domain)) ?? (await this.moveAsideRealDirectory(domain, live));
    await unlink(live).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await syncDir(this.certsDir);
    return previous;
  }

  /** Points `domain` back at `previous` (returned by install or detach), or detaches it when it had none. */
  async restore(domain: string, previous: string | null): Promise<void> {
    if (previous) await this.pointTo(domain, previous);
    else await this.detach(domain);
  }

  /** Removes the version directories of `domain` other than the current one and `keep`. */
  async removeOldVersions(domain: string, keep: string | null = null): Promise<void> {
    const current = await this.linkTarget(domain);
    const entries = await readdir(hostVersionsDir(this.certsDir, domain)).catch(() => [] as string[]);
    for (const entry of entries.filter(isHostVersionName)) {
      const target = hostVersionLinkTarget(domain, entry);
      if (target !== current && target !== keep) await rm(hostVersionDir(this.certsDir, domain, entry), { recursive: true, force: true });
    }
  }

  /** Returns the domains that have an entry in the certificates directory. */
  async installedDomains(): Promise<string[]> {
    const entries = await readdir(this.certsDir).catch(() => [] as string[]);
    return entries.filter((entry) => !entry.startsWith('.')).sort();
  }

  /** Removes everything installed for `domain` (`--prune`). */
  async remove(domain: string): Promise<void> {
    await rm(hostDomainDir(this.certsDir, domain), { recursive: true, force: true });
    await rm(hostVersionsDir(this.certsDir, domain), { recursive: true, force: true });
  }

  /** Returns the symlink target of `domain`'s entry; null when it is absent or a plain directory. */
  async linkTarget(domain: string): Promise<string | null> {
    try {
      // The one system call a domain costs a run with nothing to do. Synchronous: a readlink takes
      // microseconds, and through the thread pool 1000 of them took 80 ms of the run. It fails with
      // EINVAL on anything but a symlink (a plain directory from before the agent).
      return readlinkSync(hostDomainDir(this.certsDir, domain));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EINVAL') return null;
      throw error;
    }
  }

  /**
   * Renames a fresh symlink over `<certsDir>/<domain>`: the atomic step. Returns what the domain
   * pointed at before (a plain directory is moved under .versions first, and its version returned).
   */
  private async pointTo(domain: string, target: string): Promise<string | null> {
    const live = hostDomainDir(this.certsDir, domain);
    const temporary = hostLinkTempPath(this.certsDir, domain, randomBytes(4).toString('hex'));
    await symlink(target, temporary);
    const previous = (await this.linkTarget(domain)) ?? (await this.moveAsideRealDirectory(domain, live));
    await rename(temporary, live);
    await syncDir(dirname(live));
    return previous;
  }

  /**
   * Moves a domain directory from before this agent (a plain directory) under .versions and returns
   * its link target; returns null when `live` is a symlink or absent.
   */
  private async moveAsideRealDirectory(domain: string, live: string): Promise<string | null> {
    const stat = await lstat(live).catch(() => null);
    if (!stat || stat.isSymbolicLink()) return null;
    const version = `legacy-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    await this.makeDir(hostVersionsDir(this.certsDir, domain));
    await rename(live, hostVersionDir(this.certsDir, domain, version));
    return hostVersionLinkTarget(domain, version);
  }

  private async makeDir(path: string): Promise<void> {
    await mkdir(path, { recursive: true, mode: 0o755 });
    if (this.owner) await chown(path, this.owner.uid, this.owner.gid);
  }

  private async writeDurable(path: string, text: string, mode: number): Promise<void> {
    const handle = await open(path, 'wx', mode);
    try {
      await handle.writeFile(text);
      await handle.chmod(mode);
      if (this.owner) await handle.chown(this.owner.uid, this.owner.gid);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

