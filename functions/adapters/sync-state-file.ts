/**
 * The agent's memory between runs: per domain, the ETags of the objects it installed from and the
 * serial it installed. Written atomically (temporary file, fsync, rename).
 */

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostSiblingTempPath } from '../core/layout.js';

export interface SyncedDomain {
  /** ETag of each bucket object the installed pair came from, by file name. */
  etags: Record<string, string>;
  serial: string;
  placeholder: boolean;
  installedAt: string;
}

export interface SyncState {
  version: 1;
  domains: Record<string, SyncedDomain>;
}

export class SyncStateFile {
  constructor(readonly path: string) {}

  /** Returns the saved state; a missing or unreadable file is an empty state (everything is checked again). */
  async read(): Promise<SyncState> {
    try {
      const value = JSON.parse(await readFile(this.path, 'utf8')) as SyncState;
      if (value.version === 1 && typeof value.domains === 'object' && value.domains !== null) return value;
    } catch {
      // fall through: start from nothing
    }
    return { version: 1, domains: {} };
  }

  async write(state: SyncState): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o755 });
    const temporary = hostSiblingTempPath(this.path, String(process.pid));
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);
  }
}
