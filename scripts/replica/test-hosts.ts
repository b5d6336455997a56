import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** The prefix of the network namespaces of the tests' Debian hosts (test/helpers/debian-host.ts). */
export const TEST_HOST_PREFIX = 'acmehost-';

/** Returns the test hosts' network namespaces that exist now. */
export function testHostNamespaces(): string[] {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (listed.status !== 0) return [];
  return listed.stdout.split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name.startsWith(TEST_HOST_PREFIX));
}

/**
 * Stops every process in a test host's network namespace (SIGTERM, then SIGKILL) and removes the
 * namespace; with its last process its mounts go too. Safe to call for a namespace already gone.
 */
export async function removeTestHost(name: string): Promise<void> {
  const pids = () => spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    for (const pid of pids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone already
      }
    }
    for (const deadline = Date.now() + 5000; pids().length > 0 && Date.now() < deadline; ) await sleep(50);
  }
  spawnSync('ip', ['netns', 'del', name]);
}
