/**
 * The agent's memory between runs: per domain, the pair nginx was last confirmed serving (see
 * core/sync-plan.ts DomainRecord). Written atomically (temporary file, fsync, rename).
 */

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostSiblingTempPath } from '../core/layout.js';
import type { SyncState, SyncStateStore } from '../workflows/sync-ports.js';

export class SyncStateFile implements SyncStateStore {
  constructor(readonly path: string) {}

  /**
   * Returns the saved state. A missing or unreadable file, or one from an older agent, is an empty
   * state: every domain is checked again (and reloaded once) on the next run, nothing is lost.
   */
  async read(): Promise<SyncState> {
    try {
      const value = JSON.parse(await readFile(this.path, 'utf8')) as SyncState;
      if (value.version === 2 && typeof value.domains === 'object' && value.domains !== null) return value;
    } catch {
      // fall through: start from nothing
    }
    return { version: 2, domains: {} };
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
