import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createProgress, elapsedPattern } from '../../scripts/replica/progress.js';

/** A progress on a clock the test moves: `advance(ms)` moves it and runs the timers due. */
function progressOnClock(t: TestContext) {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let clock = 1_000_000;
  const written: string[] = [];
  const progress = createProgress({ prefix: 'replica', write: (line) => written.push(line), now: () => clock });
  const advance = (ms: number): void => {
    for (let step = 0; step < ms; step += 1_000) {
      clock += 1_000;
      t.mock.timers.tick(1_000);
    }
  };
  t.after(() => progress.end());
  return { progress, written, advance };
}

test('says each phase as it ends, with the seconds since the start', async (t) => {
  const run = progressOnClock(t);

  const moto = run.progress.phase('starting moto', 'moto started', Promise.resolve());
  run.advance(3_000);
  await moto;
  run.progress.say('ready');

  assert.deepEqual(run.written, ['replica: moto started (3.0 s)', 'replica: ready (3.0 s)']);
  assert.deepEqual(run.progress.lines, run.written);
  assert.equal(elapsedPattern.exec(run.written[0] ?? '')?.[1], '3.0');
});

test('names what is still running after 8 s without a line, and keeps saying it', async (t) => {
  const run = progressOnClock(t);
  let finish = (): void => undefined;
  const deploy = run.progress.phase('deploying the stack', 'stack deployed', new Promise<void>((resolve) => (finish = resolve)));

  run.advance(25_000);
  finish();
  await deploy;

  assert.deepEqual(run.written, [
    'replica: still deploying the stack (8.0 s)',
    'replica: still deploying the stack (16.0 s)',
    'replica: still deploying the stack (24.0 s)',
    'replica: stack deployed (25.0 s)',
  ]);
});

test('is silent while nothing runs, and a failed phase is not said to be done', async (t) => {
  const run = progressOnClock(t);

  const failed = run.progress.phase('starting Pebble', 'Pebble started', Promise.reject(new Error('pebble: exited')));
  await assert.rejects(failed, /pebble: exited/);
  run.advance(30_000);

  assert.deepEqual(run.written, []);
});
