/**
 * The decisions behind riding out transient faults, table-tested: which failed tries to the CA are
 * worth another, how long to wait, and how far this run's clock is from the CA's.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { judgeClockSkew } from '../../functions/core/clock.js';
import { dnsProblem } from '../../functions/adapters/name-resolver.js';
import { describeTry, isTransient, learnWait, nextRetry, pollWaitMs, retryAfterMs, type FailedTry, type RetryPolicy } from '../../functions/core/retry.js';

const now = new Date('2026-12-01T12:00:00Z');
const policy: RetryPolicy = { attempts: 6, baseMs: 1000, maxBackoffMs: 30_000, maxRetryAfterMs: 120_000, reserveMs: 120_000 };
const answered = (status: number, type: string | null = null, retryAfter: string | null = null): FailedTry => ({ answered: true, status, problemType: type ? `urn:ietf:params:acme:error:${type}` : null, retryAfter });

const transientCases: { name: string; failed: FailedTry; transient: boolean }[] = [
  { name: 'a 503 from the CA', failed: answered(503, 'serverInternal'), transient: true },
  { name: 'a 500 without a problem document', failed: answered(500), transient: true },
  { name: 'a 429 rate limit', failed: answered(429, 'rateLimited', '30'), transient: true },
  { name: 'a badNonce the client\'s own nonce retries did not get past', failed: answered(400, 'badNonce'), transient: true },
  { name: 'a connection reset', failed: { answered: false, code: 'ECONNRESET' }, transient: true },
  { name: 'a request timeout', failed: { answered: false, code: 'ETIMEDOUT' }, transient: true },
  { name: 'a refused connection (the CA restarting)', failed: { answered: false, code: 'ECONNREFUSED' }, transient: true },
  { name: 'no such account: final', failed: answered(400, 'accountDoesNotExist'), transient: false },
  { name: 'a malformed request: final', failed: answered(400, 'malformed'), transient: false },
  { name: 'an unauthorized validation: final', failed: answered(403, 'unauthorized'), transient: false },
  { name: 'a certificate the client does not trust: final', failed: { answered: false, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, transient: false },
  { name: 'a name that does not resolve: final', failed: { answered: false, code: 'ENOTFOUND' }, transient: false },
];
for (const item of transientCases) {
  test(`retry: ${item.name} is ${item.transient ? '' : 'not '}transient`, () => {
    assert.equal(isTransient(item.failed), item.transient);
  });
}

const retryAfterCases: { header: string | null; expect: number | null }[] = [
  { header: '30', expect: 30_000 },
  { header: ' 0 ', expect: 0 },
  { header: 'Tue, 01 Dec 2026 12:01:00 GMT', expect: 60_000 },
  { header: 'Tue, 01 Dec 2026 11:00:00 GMT', expect: 0 },
  { header: 'soon', expect: null },
  { header: null, expect: null },
];
for (const item of retryAfterCases) {
  test(`retry: Retry-After ${JSON.stringify(item.header)} asks for ${item.expect} ms`, () => {
    assert.equal(retryAfterMs(item.header, now), item.expect);
  });
}

const decisionCases: { name: string; failed: FailedTry; attempt: number; timeLeftMs?: number; random?: number; expect: { retry: true; waitMs: number } | { retry: false; why: RegExp } }[] = [
  { name: 'the first 503 is tried again after a jittered second at most', failed: answered(503), attempt: 1, random: 0.5, expect: { retry: true, waitMs: 500 } },
  { name: 'the backoff doubles with each try', failed: answered(503), attempt: 4, random: 0.5, expect: { retry: true, waitMs: 4000 } },
  { name: 'the fifth failed try waits at most 16 s', failed: answered(503), attempt: 5, random: 0.999, expect: { retry: true, waitMs: 15_984 } },
  { name: 'the CA\'s Retry-After is honoured instead of the backoff', failed: answered(503, null, '7'), attempt: 1, expect: { retry: true, waitMs: 7000 } },
  { name: 'a Retry-After beyond the cap ends the retries at once, saying until when', failed: answered(429, 'rateLimited', '3600'), attempt: 1, expect: { retry: false, why: /^the CA asks to wait 3600 s \(until 2026-12-01T13:00:00\.000Z\), longer than a run waits \(120 s\)$/ } },
  { name: 'the last try is not followed by another', failed: answered(503), attempt: 6, expect: { retry: false, why: /^gave up after 6 tries$/ } },
  { name: 'no wait runs into the time kept back at the invocation\'s end', failed: answered(503, null, '60'), attempt: 1, timeLeftMs: 150_000, expect: { retry: false, why: /too little time is left in this invocation to wait 60 s/ } },
  { name: 'a final answer is not tried again', failed: answered(403, 'unauthorized'), attempt: 1, expect: { retry: false, why: /^not transient$/ } },
];
for (const item of decisionCases) {
  test(`retry: ${item.name}`, () => {
    const decision = nextRetry({ failed: item.failed, attempt: item.attempt, policy, now, timeLeftMs: item.timeLeftMs ?? null, random: item.random ?? 0.5 });

    if (item.expect.retry) assert.deepEqual(decision, item.expect);
    else assert.match(decision.retry ? '' : decision.why, item.expect.why);
  });
}

test('retry: a failed try is described by its status, problem type and Retry-After, or its transport error', () => {
  assert.equal(describeTry(answered(503, 'serverInternal', '5')), 'HTTP 503 serverInternal, Retry-After 5');
  assert.equal(describeTry({ answered: false, code: 'ECONNRESET' }), 'no answer (ECONNRESET)');
});

const skewCases: { name: string; header: string | null; receivedAt: string; skew?: number; problem?: RegExp; warning?: RegExp }[] = [
  { name: 'a clock within a minute is fine', header: 'Tue, 01 Dec 2026 12:00:00 GMT', receivedAt: '2026-12-01T12:00:30Z', skew: 30_000 },
  { name: 'a clock 5 minutes behind is a warning within the allowance', header: 'Tue, 01 Dec 2026 12:00:00 GMT', receivedAt: '2026-12-01T11:55:00Z', skew: -300_000, warning: /^this run's clock is 5 min behind the CA's \(its Date header: 2026-12-01T12:00:00\.000Z\); within the 60 min allowed$/ },
  { name: 'a clock 2 hours ahead is beyond the allowance', header: 'Tue, 01 Dec 2026 12:00:00 GMT', receivedAt: '2026-12-01T14:00:00Z', skew: 7_200_000, problem: /^this run's clock is 2\.0 h ahead of the CA's .*more than the 60 min allowed \(CLOCK_SKEW_ALLOWANCE_SECONDS\): no order is placed/ },
  { name: 'an answer without a Date header measures nothing', header: null, receivedAt: '2026-12-01T12:00:00Z' },
];
for (const item of skewCases) {
  test(`clock: ${item.name}`, () => {
    const judged = judgeClockSkew(item.header, new Date(item.receivedAt), 3_600_000);

    if (item.skew === undefined) return assert.equal(judged, null);
    assert.equal(judged?.skewMs, item.skew);
    if (item.problem) assert.match(judged?.problem ?? '', item.problem);
    else assert.equal(judged?.problem, null);
    if (item.warning) assert.match(judged?.warning ?? '', item.warning);
    else assert.equal(judged?.warning, null);
  });
}

const dnsCases: { code: string; expect: string }[] = [
  { code: 'ENOTFOUND', expect: 'www.a.test does not exist (NXDOMAIN looking up A)' },
  { code: 'ESERVFAIL', expect: 'the DNS server failed to answer for www.a.test (SERVFAIL looking up A)' },
  { code: 'ETIMEOUT', expect: 'no answer from the DNS server (192.0.2.53:53) looking up A for www.a.test (timed out)' },
  { code: 'ECONNREFUSED', expect: 'the DNS server (192.0.2.53:53) cannot be reached looking up A for www.a.test (connection refused)' },
  { code: 'EREFUSED', expect: 'the DNS server refused to answer for www.a.test (REFUSED looking up A)' },
];
for (const item of dnsCases) {
  test(`dns: ${item.code} is reported as what it is`, () => {
    assert.equal(dnsProblem(item.code, 'www.a.test', 'A', '192.0.2.53:53'), item.expect);
  });
}

describe('polling the CA (pollWaitMs)', () => {
  const policy = { minMs: 200, issuanceFirstMs: 20, maxMs: 1000, attempts: 12 };
  test('waits the minimum before the first poll of a validation, then the minimum doubling up to the maximum', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((poll) => pollWaitMs(poll, null, policy)), [200, 200, 400, 800, 1000, 1000]);
  });
  test('waits the shorter first wait before the first poll of an issuance, then the same backoff', () => {
    assert.deepEqual([1, 2, 3].map((poll) => pollWaitMs(poll, null, policy, null, 'issuance')), [20, 200, 400]);
    assert.equal(pollWaitMs(1, null, { ...policy, issuanceFirstMs: 5000 }, null, 'issuance'), 200, 'never longer than a validation\'s');
  });
  test('waits most of what the CA took lately before the first poll (within the first wait and the maximum), then the backoff from the minimum', () => {
    const slow = { minMs: 100, issuanceFirstMs: 20, maxMs: 5000, attempts: 12 };
    assert.deepEqual([1, 2, 3].map((poll) => pollWaitMs(poll, null, slow, 1500)), [1200, 100, 200]);
    assert.equal(pollWaitMs(1, null, slow, 20), 100, 'a validation: not below the minimum');
    assert.equal(pollWaitMs(1, null, slow, 30, 'issuance'), 24, 'an issuance: most of what it took, below the minimum');
    assert.equal(pollWaitMs(1, null, slow, 10, 'issuance'), 20, 'an issuance: not below its first wait');
    assert.equal(pollWaitMs(1, null, slow, 60_000), 5000, 'not beyond the maximum');
  });
  test('the learned wait follows what is observed, weighted towards the latest', () => {
    assert.equal(learnWait(null, 1500), 1500);
    assert.equal(learnWait(1500, 500), 1200);
  });
  test("honours the CA's Retry-After, at least the minimum and at most a minute", () => {
    assert.equal(pollWaitMs(1, 3000, policy), 3000);
    assert.equal(pollWaitMs(2, 0, policy), 200);
    assert.equal(pollWaitMs(3, 3_600_000, policy), 60_000);
  });
  test('a maximum below the minimum waits the minimum', () => {
    assert.equal(pollWaitMs(4, null, { minMs: 500, issuanceFirstMs: 20, maxMs: 100, attempts: 3 }), 500);
  });
});
