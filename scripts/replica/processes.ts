import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** A process the replica started and must stop. */
export interface ReplicaProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Set once the process has exited while we were still watching it. */
  exited?: string;
}

/**
 * Starts `command` detached (own process group, outlives this script) with stdout and stderr
 * appended to `logFile`, and adds it to `started` (so a failed start can stop it). Returns as soon as
 * the process is spawned; readiness is checked separately.
 */
export async function startLogged(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  started: ReplicaProcess[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ReplicaProcess> {
  const log = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', log, log], env });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (error) => reject(new Error(`${name}: starting ${command}: ${error.message}`, { cause: error })));
      child.once('spawn', () => resolve(child.pid as number));
    });
    const spawned: ReplicaProcess = { name, pid, logFile };
    child.once('exit', (code, signal) => {
      spawned.exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
    });
    child.unref();
    started.push(spawned);
    return spawned;
  } finally {
    closeSync(log);
  }
}

/** Returns the last `lines` lines of a log file, or a note when it does not exist. */
export function tailLog(logFile: string, lines = 20): string {
  if (!existsSync(logFile)) return `(no log at ${logFile})`;
  return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Polls `probe` until it returns true; throws with the tail of the process log when the process exits
 * or `timeoutMs` passes first.
 */
export async function waitUntilReady(
  target: ReplicaProcess,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (target.exited !== undefined) {
      throw new Error(`${target.name}: exited (${target.exited}) before ${what} was ready\n--- ${target.logFile}\n${tailLog(target.logFile)}`);
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${target.name}: ${what} not ready after ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}\n--- ${target.logFile}\n${tailLog(target.logFile)}`,
      );
    }
    await sleep(100);
  }
}

/**
 * Returns whether `pid` is alive and still runs a command line containing `expected`, so a stale
 * state file never makes us signal an unrelated process that reused the pid.
 */
export function isRunning(pid: number, expected: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && cmdline.includes(expected);
  } catch {
    return false;
  }
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; returns when the process is gone. Safe to call twice. */
export async function stopProcess(pid: number, expected: string, graceMs = 5_000): Promise<void> {
  if (!isRunning(pid, expected)) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(pid, expected)) {
    if (Date.now() > deadline) {
      signal(pid, 'SIGKILL');
      await sleep(100);
      return;
    }
    await sleep(50);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
