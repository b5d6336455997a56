/**
 * A lock file that keeps two agent runs (a slow run and the next cron tick, or a run by hand) from
 * interleaving. It belongs in /run (a tmpfs): a reboot clears it, so a pid reused after a reboot
 * cannot block every run. The cron line also runs the agent under flock(1), the kernel's guard.
 *
 * The lock file is created whole with link(2) (never seen empty). A lock whose holder is not a live
 * agent process is taken over by renaming it aside and checking that the renamed file is still the
 * stale one, so two runs that find the same stale lock cannot both take it.
 */

import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostSiblingTempPath } from '../core/layout.js';

export interface HeldLockFile {
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

/** Who takes the lock, and how to recognise a live holder. */
export interface LockOwner {
  pid: number;
  /** A live holder's command line contains one of these (the agent's script name or path). */
  markers: readonly string[];
}

/** Returns this process as the lock owner: the agent is recognised by "sync-agent" or this script's path. */
export function agentLockOwner(): LockOwner {
  return { pid: process.pid, markers: ['sync-agent', ...(process.argv[1] ? [process.argv[1]] : [])] };
}

/** Returns the held lock, or null when a live agent holds it (or another run is taking it over right now). */
export async function acquireLockFile(path: string, owner: LockOwner = agentLockOwner()): Promise<HeldLockFile | null> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const content = `${owner.pid}\n`;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await createWhole(path, content)) return { release: () => releaseIfOurs(path, content) };
    const stale = await readFile(path, 'utf8').catch(() => null);
    if (stale === null) continue; // released meanwhile: try again
    const holder = Number(stale.trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== owner.pid && (await isLiveAgent(holder, owner.markers))) return null;
    if (!(await takeOver(path, stale))) return null;
  }
  return null;
}

/** Creates `path` holding `content`, atomically: returns false when it already exists. */
async function createWhole(path: string, content: string): Promise<boolean> {
  const temporary = hostSiblingTempPath(path, randomBytes(6).toString('hex'));
  await writeFile(temporary, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * Removes the stale lock holding `stale`. Returns false when the file at `path` is no longer that
 * lock (another run took it over first): then it is put back, unless yet another lock took its place.
 */
async function takeOver(path: string, stale: string): Promise<boolean> {
  const aside = hostSiblingTempPath(path, `stale-${randomBytes(6).toString('hex')}`);
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true; // gone already: compete to create it
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => null);
  if (moved === stale) {
    await unlink(aside).catch(() => undefined);
    return true;
  }
  await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return false;
}

async function releaseIfOurs(path: string, content: string): Promise<void> {
  const holder = await readFile(path, 'utf8').catch(() => null);
  if (holder === content) await unlink(path).catch(() => undefined);
}

/**
 * Returns true when `pid` is a live node process running the agent, judged by /proc/<pid>/cmdline:
 * a pid that is merely alive may be an unrelated process that reused it. Without /proc, any live
 * pid counts.
 */
async function isLiveAgent(pid: number, markers: readonly string[]): Promise<boolean> {
  let cmdline: string;
  try {
    cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ESRCH') return true; // cannot tell (EACCES): assume it is alive rather than run twice
    const hasProc = await readFile('/proc/self/cmdline').then(() => true, () => false);
    return hasProc ? false : isAlive(pid);
  }
  const [program = '', ...args] = cmdline.split('\0');
  return /node[^/]*$/.test(program) && args.some((arg) => markers.some((marker) => arg.includes(marker)));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
