/**
 * The host agent's lock file, with real files in a temporary directory and real processes as holders.
 */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { acquireLockFile, type LockOwner } from '../../functions/adapters/lock-file.js';
import { tempDir } from '../helpers/temp.js';

const markers = ['sync-agent'];
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts a live node process whose command line looks like the agent's, and returns it as an owner. */
function liveAgent(): LockOwner {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)', '/opt/acme-sync/sync-agent.js'], { stdio: 'ignore' });
  children.push(child);
  return { pid: child.pid as number, markers };
}

/** Returns the pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

function lockPath(): string {
  return join(tempDir('lock'), 'acme-sync.lock');
}

test('takes a free lock and writes its pid', async () => {
  const path = lockPath();
  const owner = liveAgent();

  const lock = await acquireLockFile(path, owner);

  assert.ok(lock);
  assert.equal(readFileSync(path, 'utf8'), `${owner.pid}\n`);
});

test('returns null while a live agent process holds the lock', async () => {
  const path = lockPath();
  const holder = liveAgent();
  await acquireLockFile(path, holder);

  const second = await acquireLockFile(path, liveAgent());

  assert.equal(second, null);
  assert.equal(readFileSync(path, 'utf8'), `${holder.pid}\n`);
});

test('takes over a lock whose holder has exited', async () => {
  const path = lockPath();
  writeFileSync(path, `${await deadPid()}\n`);
  const owner = liveAgent();

  const lock = await acquireLockFile(path, owner);

  assert.ok(lock);
  assert.equal(readFileSync(path, 'utf8'), `${owner.pid}\n`);
});

for (const { name, pid } of [
  { name: 'pid 1 (init, after a reboot reused the pid)', pid: 1 },
  { name: 'the test runner (a node process that is not the agent)', pid: process.ppid },
]) {
  test(`takes over a lock whose pid is a live process that is not the agent: ${name}`, async () => {
    const path = lockPath();
    writeFileSync(path, `${pid}\n`);
    const owner = liveAgent();

    const lock = await acquireLockFile(path, owner);

    assert.ok(lock);
    assert.equal(readFileSync(path, 'utf8'), `${owner.pid}\n`);
  });
}

test('takes over a lock file with no pid in it', async () => {
  const path = lockPath();
  writeFileSync(path, 'garbage');

  const lock = await acquireLockFile(path, liveAgent());

  assert.ok(lock);
});

test('of two runs taking over the same stale lock at once, exactly one wins', async () => {
  const [first, second] = [liveAgent(), liveAgent()];
  const dead = await deadPid();
  for (let round = 0; round < 40; round += 1) {
    const path = lockPath();
    writeFileSync(path, `${dead}\n`);

    const locks = await Promise.all([acquireLockFile(path, first), acquireLockFile(path, second)]);

    const winners = locks.map((lock, index) => (lock ? [first, second][index] : null)).filter((owner) => owner !== null);
    assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
    assert.equal(readFileSync(path, 'utf8'), `${winners[0]?.pid}\n`, `round ${round}: the lock file names the winner`);
    assert.deepEqual(readdirSync(join(path, '..')), ['acme-sync.lock'], `round ${round}: no temporary files left`);
  }
});

test('release removes our own lock, and a second release does nothing', async () => {
  const path = lockPath();
  const lock = await acquireLockFile(path, liveAgent());

  await lock?.release();
  await lock?.release();

  assert.deepEqual(readdirSync(join(path, '..')), []);
});

test('release does not remove a lock that another run holds now', async () => {
  const path = lockPath();
  const lock = await acquireLockFile(path, liveAgent());
  const other = liveAgent();
  writeFileSync(path, `${other.pid}\n`); // another run took the lock over meanwhile

  await lock?.release();

  assert.equal(readFileSync(path, 'utf8'), `${other.pid}\n`);
});
