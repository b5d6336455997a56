import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fanOutDecision, formatRenewMessage, parseFanOutMode, parseRenewMessage } from '../../functions/core/fan-out.js';

const message = { domain: 'example.com', runId: 'run-1', reason: 'two thirds of its lifetime passed', force: false, deferrals: 0 };

test('a renewal message reads back as written', () => {
  assert.deepEqual(parseRenewMessage(formatRenewMessage(message)), message);
  assert.deepEqual(parseRenewMessage(formatRenewMessage({ ...message, force: true, deferrals: 2 })), { ...message, force: true, deferrals: 2 });
});

for (const [name, body, problem] of [
  ['not JSON', 'renew example.com', /not JSON/],
  ['another version', JSON.stringify({ version: 2, domain: 'example.com' }), /not a renewal message of version 1/],
  ['no domain', JSON.stringify({ version: 1 }), /names no valid domain/],
  ['a path for a domain', JSON.stringify({ version: 1, domain: '../etc' }), /names no valid domain \("\.\.\/etc"/],
  ['null', 'null', /not a renewal message/],
] as const) {
  test(`a message that is ${name} is refused, saying why`, () => {
    assert.throws(() => parseRenewMessage(body), problem);
  });
}

test('odd fields are made safe: a negative deferral count is 0, a non-boolean force is false', () => {
  assert.deepEqual(parseRenewMessage(JSON.stringify({ version: 1, domain: 'example.com', deferrals: -3, force: 'yes' })), { domain: 'example.com', runId: 'unknown', reason: '', force: false, deferrals: 0 });
});

test('fan-out modes: off by default, the three names, anything else refused', () => {
  assert.equal(parseFanOutMode(undefined), 'off');
  for (const mode of ['auto', 'always', 'off'] as const) assert.equal(parseFanOutMode(mode), mode);
  assert.throws(() => parseFanOutMode('sometimes'), /not a fan-out mode/);
});

const base = { concurrency: 4, perDomainMs: 20_000, reserveMs: 180_000 };
test('auto hands the due domains over only when they do not fit in the time left, less the reserve', () => {
  // 40 domains, 4 at a time, 20 s each: 200 s; 900 s left less 180 s: they fit.
  assert.deepEqual(fanOutDecision({ ...base, mode: 'auto', due: 40, timeLeftMs: 900_000 }), { fanOut: false, why: '40 due domains, 4 at a time, need about 200 s; 720 s are left: renewed here' });
  // 200 domains: 1000 s do not fit.
  assert.equal(fanOutDecision({ ...base, mode: 'auto', due: 200, timeLeftMs: 900_000 }).fanOut, true);
  assert.equal(fanOutDecision({ ...base, mode: 'auto', due: 200, timeLeftMs: null }).fanOut, false, 'outside Lambda nothing ends the run');
});

test('always hands over whatever is due; off and nothing due never', () => {
  assert.equal(fanOutDecision({ ...base, mode: 'always', due: 1, timeLeftMs: 900_000 }).fanOut, true);
  assert.equal(fanOutDecision({ ...base, mode: 'always', due: 0, timeLeftMs: 900_000 }).fanOut, false);
  assert.equal(fanOutDecision({ ...base, mode: 'off', due: 5000, timeLeftMs: 900_000 }).fanOut, false);
});
