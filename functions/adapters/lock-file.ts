/**
 * A lock file that keeps two agent runs (a slow run and the next cron tick) from interleaving.
 * Created with O_EXCL; a lock left by a dead process (killed, host rebooted) is taken over.
 */

import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface HeldLockFile {
  release(): Promise<void>;
}

/** Returns the held lock, or null when a live process holds it. */
export async function acquireLockFile(path: string, pid = process.pid): Promise<HeldLockFile | null> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${pid}\n`);
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) return null;
    await rm(path, { force: true });
  }
  return null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
