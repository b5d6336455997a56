/**
 * The agent's memory between runs: per domain, the pair nginx was last confirmed serving (see
 * core/sync-plan.ts DomainRecord), and the view of the bucket the last run used (core/view-plan.ts).
 * Written atomically (temporary file, fsync, rename), and only when it changed.
 */

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostSiblingTempPath } from '../core/layout.js';
import { parseBucketMemory } from '../core/view-plan.js';
import type { SyncState, SyncStateStore } from '../workflows/sync-ports.js';

export class SyncStateFile implements SyncStateStore {
  /** The file's text as last read or written: a run that changed nothing does not write it again. */
  private text: string | null = null;

  constructor(readonly path: string) {}

  /**
   * Returns the saved state. A missing or unreadable file, or one from an older agent, is an empty
   * state: every domain is checked again (and reloaded once) on the next run, nothing is lost.
   */
  async read(): Promise<SyncState> {
    try {
      const text = await readFile(this.path, 'utf8');
      const value = JSON.parse(text) as SyncState;
      if (value.version === 2 && typeof value.domains === 'object' && value.domains !== null) {
        this.text = text;
        // A view that cannot be read back only costs a full listing.
        const bucket = parseBucketMemory(value.bucket);
        return { version: 2, domains: value.domains, ...(bucket ? { bucket } : {}) };
      }
    } catch {
      // fall through: start from nothing
    }
    return { version: 2, domains: {} };
  }

  async write(state: SyncState): Promise<void> {
    // One line: the file is read and compared on every run, and is a megabyte indented at 1000 domains.
    const text = `${JSON.stringify(state)}\n`;
    if (text === this.text) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o755 });
    const temporary = hostSiblingTempPath(this.path, String(process.pid));
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);
    this.text = text;
  }
}
