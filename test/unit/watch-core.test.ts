/**
 * The decisions behind "never lapse silently", table-tested: locks, what hosts serve, host
 * reports, and the message a person receives.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attentionItems, formatAttention, publishDecision, REMINDER_MS, type AttentionState } from '../../functions/core/attention.js';
import { buildHostReport, judgeHosts } from '../../functions/core/host-report.js';
import { hostReportKey, isReservedFolder } from '../../functions/core/layout.js';
import { heldReason, judgeLock, lockBody, lockTtlMs, parseLockHolder } from '../../functions/core/locks.js';
import { judgeServedDomain, summarizeServed, type ServedAnswer } from '../../functions/core/served.js';
import type { DomainRecord } from '../../functions/core/sync-plan.js';

const now = new Date('2026-12-01T12:00:00Z');
const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;
const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();
const ttl = 15 * minute;
const body = (text: object) => JSON.stringify(text);

const lockCases: { name: string; text: string | null; breakLocks?: boolean; take: boolean; why?: string; detail?: RegExp }[] = [
  { name: 'a live lock is left to its holder', text: body({ runId: 'run-a', acquiredAt: at(-minute), expiresAt: at(10 * minute) }), take: false },
  { name: 'an expired lock is taken over, saying whose it was', text: body({ runId: 'run-a', acquiredAt: at(-20 * minute), expiresAt: at(-5 * minute) }), take: true, why: 'expired', detail: /expired lock \(held by run run-a since .*\): that run ended without releasing it/ },
  { name: 'a lock whose expiry lies years ahead is broken and taken over', text: body({ runId: 'run-a', acquiredAt: at(0), expiresAt: at(3650 * day) }), take: true, why: 'broken', detail: /expiry no run would set/ },
  { name: 'an expiry within the longest TTL plus slack for clocks is plausible', text: body({ runId: 'run-a', acquiredAt: at(0), expiresAt: at(ttl + 4 * minute) }), take: false },
  { name: 'a lock that is not JSON is broken and taken over', text: 'garbage', take: true, why: 'broken', detail: /cannot be read \("garbage"\)/ },
  { name: 'a lock without an expiry is broken and taken over', text: body({ runId: 'run-a' }), take: true, why: 'broken' },
  { name: 'a lock with an unparsable expiry is broken and taken over', text: body({ runId: 'run-a', expiresAt: 'soon' }), take: true, why: 'broken' },
  { name: 'an empty lock object is broken and taken over', text: '', take: true, why: 'broken' },
  { name: 'a live lock is broken when a run is asked to', text: body({ runId: 'run-a', acquiredAt: at(-minute), expiresAt: at(10 * minute) }), breakLocks: true, take: true, why: 'asked', detail: /broke the lock as asked \(held by run run-a/ },
  { name: 'a lock of the earlier format (owner) is read', text: body({ owner: 'run-old', acquiredAt: at(-minute), expiresAt: at(10 * minute) }), take: false },
];
for (const item of lockCases) {
  test(`lock: ${item.name}`, () => {
    const judgement = judgeLock(item.text, now, ttl, item.breakLocks ?? false);

    assert.equal(judgement.take, item.take);
    if (judgement.take) {
      assert.equal(judgement.why, item.why);
      if (item.detail) assert.match(judgement.detail, item.detail);
    }
  });
}

test('lock: a lock names its run, when it was taken and when it expires; a skipped domain says so', () => {
  const holder = parseLockHolder(lockBody('run-b', now, ttl));

  assert.deepEqual(holder, { runId: 'run-b', acquiredAt: now.toISOString(), expiresAt: at(ttl) });
  assert.match(heldReason(holder as NonNullable<typeof holder>), /run run-b, since 2026-12-01T12:00:00\.000Z, until 2026-12-01T12:15:00\.000Z \(a manual run with "breakLocks": true takes it\)/);
});

const ttlCases: { name: string; timeLeft: number | undefined; expect: number }[] = [
  { name: 'outside Lambda, the configured TTL', timeLeft: undefined, expect: ttl },
  { name: 'early in an invocation, the configured TTL', timeLeft: 14 * 60 * minute, expect: ttl },
  { name: 'near an invocation\'s end, its time left plus a minute', timeLeft: 4 * minute, expect: 5 * minute },
  { name: 'never less than a minute', timeLeft: 0, expect: minute },
];
for (const item of ttlCases) {
  test(`lock TTL: ${item.name}`, () => {
    assert.equal(lockTtlMs(ttl, item.timeLeft), item.expect);
  });
}

const reached = (name: string, serial: string, notBefore: string, notAfter: string): ServedAnswer => ({ name, reached: true, serial, notBefore, notAfter, issuer: 'CN=R11' });
const stored = { serial: 'new', renewedAt: at(-5 * hour) };
const servedCases: { name: string; answer: ServedAnswer; stored?: typeof stored | null; kinds: string[] }[] = [
  { name: 'the stored certificate with most of its lifetime left is fine', answer: reached('a.test', 'new', at(-10 * day), at(80 * day)), kinds: [] },
  { name: 'a certificate with less than a third of its lifetime left is lapsing', answer: reached('a.test', 'new', at(-70 * day), at(20 * day)), kinds: ['lapsing'] },
  { name: 'an expired certificate is lapsing', answer: reached('a.test', 'new', at(-100 * day), at(-day)), kinds: ['lapsing'] },
  { name: 'another certificate than the one stored five hours ago is a mismatch', answer: reached('a.test', 'old', at(-40 * day), at(50 * day)), kinds: ['mismatch'] },
  { name: 'another certificate than one stored within the grace is not yet', answer: reached('a.test', 'old', at(-40 * day), at(50 * day)), stored: { serial: 'new', renewedAt: at(-hour) }, kinds: [] },
  { name: 'an old, lapsing certificate served instead of the stored one is both', answer: reached('a.test', 'old', at(-80 * day), at(5 * day)), kinds: ['lapsing', 'mismatch'] },
  { name: 'any certificate for a domain the bucket has none for is no mismatch', answer: reached('a.test', 'self', at(-day), at(3650 * day)), stored: null, kinds: [] },
  { name: 'a name no handshake reaches is unreachable', answer: { name: 'a.test', reached: false, error: 'connect ECONNREFUSED 192.0.2.1:443' }, kinds: ['unreachable'] },
];
for (const item of servedCases) {
  test(`served: ${item.name}`, () => {
    const judgement = judgeServedDomain({ domain: 'a.test', answers: [item.answer], stored: item.stored === undefined ? stored : item.stored, previous: undefined, now, mismatchGraceMs: 3 * hour, lapseFraction: 1 / 3 });

    assert.deepEqual(judgement.findings.map((finding) => finding.kind), item.kinds);
  });
}

test('served: records are rewritten only when what is served changes; `since` keeps when a state began', () => {
  const answers = [reached('a.test', 'new', at(-10 * day), at(80 * day))];
  const first = judgeServedDomain({ domain: 'a.test', answers, stored, previous: undefined, now, mismatchGraceMs: hour, lapseFraction: 1 / 3 });
  const later = new Date(now.getTime() + hour);
  const again = judgeServedDomain({ domain: 'a.test', answers, stored, previous: first.records, now: later, mismatchGraceMs: hour, lapseFraction: 1 / 3 });
  const changed = judgeServedDomain({ domain: 'a.test', answers: [reached('a.test', 'newer', at(0), at(90 * day))], stored, previous: first.records, now: later, mismatchGraceMs: hour, lapseFraction: 1 / 3 });

  assert.equal(first.changed, true);
  assert.deepEqual(first.records['a.test'], { serial: 'new', notAfter: at(80 * day), issuer: 'CN=R11', stored: true, since: now.toISOString() });
  assert.equal(again.changed, false);
  assert.equal(again.records['a.test']?.since, now.toISOString());
  assert.equal(changed.changed, true);
  assert.equal(changed.records['a.test']?.since, later.toISOString());
});

test('served: the summary gives the least lifetime and days left, and counts each kind of finding', () => {
  const judgements = [
    judgeServedDomain({ domain: 'a.test', answers: [reached('a.test', 'new', at(-10 * day), at(80 * day)), reached('www.a.test', 'old', at(-60 * day), at(30 * day))], stored, previous: undefined, now, mismatchGraceMs: hour, lapseFraction: 1 / 3 }),
    judgeServedDomain({ domain: 'b.test', answers: [{ name: 'b.test', reached: false, error: 'timeout' }], stored, previous: undefined, now, mismatchGraceMs: hour, lapseFraction: 1 / 3 }),
  ];

  const summary = summarizeServed(judgements);

  assert.equal(summary.minDaysLeft, 30);
  assert.equal(summary.minFractionLeft?.toFixed(3), (30 / 90).toFixed(3));
  assert.deepEqual([summary.mismatched, summary.unreachable, summary.lapsing], [1, 1, 0]);
});

const record = (serial: string, placeholder = false): DomainRecord => ({ serial, notBefore: at(-day), notAfter: at(80 * day), names: ['a.test'], placeholder, digests: { fullChain: 'c', key: 'k' }, version: 'v', etags: null, installedAt: at(-day), served: 'confirmed' });
const report = (atMs: number, domains: Record<string, DomainRecord>, failures: string[] = []) => JSON.stringify(buildHostReport({ id: 'AROAEXAMPLE:i-0abc', name: 'web1', at: new Date(now.getTime() + atMs), agentVersion: '0.1.0', records: domains, failures }));
const storedSerials = new Map([['a.test', { serial: 'new', renewedAt: at(-5 * hour) }], ['b.test', { serial: 'b1', renewedAt: at(-30 * day) }]]);
const hostCases: { name: string; text: string | null; findings: string[] }[] = [
  { name: 'a host that reported an hour ago, serving the stored serials, is fine', text: report(-hour, { 'a.test': record('new'), 'b.test': record('b1') }), findings: [] },
  { name: 'a host silent for four hours is stale', text: report(-4 * hour, { 'a.test': record('new') }), findings: ['stale'] },
  { name: 'a host serving the serial replaced five hours ago is behind on that domain', text: report(-hour, { 'a.test': record('old'), 'b.test': record('b1') }), findings: ['behind:a.test'] },
  { name: 'a host still serving a placeholder for a domain the bucket has a certificate for is behind', text: report(-hour, { 'b.test': record('ph', true) }), findings: ['behind:b.test'] },
  { name: 'a host whose last run failed is failing, with its reason', text: report(-hour, {}, ['a.test: refused: certificate public key does not match the domain key']), findings: ['failing'] },
  { name: 'a report that cannot be read is unreadable', text: '{"version": 2}', findings: ['unreadable'] },
];
for (const item of hostCases) {
  test(`hosts: ${item.name}`, () => {
    const findings = judgeHosts([{ key: '.hosts/AROAEXAMPLE:i-0abc/web1.json', text: item.text }], storedSerials, now, 3 * hour, 3 * hour);

    assert.deepEqual(findings.map((finding) => (finding.domain ? `${finding.kind}:${finding.domain}` : finding.kind)), item.findings);
  });
}

test('hosts: the findings name the host by hostname and identity', () => {
  const [finding] = judgeHosts([{ key: 'k', text: report(-4 * hour, {}) }], storedSerials, now, 3 * hour, 3 * hour);

  assert.match(finding?.detail ?? '', /^host web1 \(AROAEXAMPLE:i-0abc\) has not reported since 2026-12-01T08:00:00\.000Z \(4 hours ago\): is its agent running\?$/);
});

const keyCases: { name: string; identity: string; hostname: string; key?: string; throws?: RegExp }[] = [
  { name: 'an instance role\'s session', identity: 'AROAEXAMPLEID:i-0123456789abcdef0', hostname: 'Web1.example.com', key: '.hosts/AROAEXAMPLEID:i-0123456789abcdef0/web1.example.com.json' },
  { name: 'an IAM user', identity: 'AIDAEXAMPLEUSERID', hostname: 'web_2', key: '.hosts/AIDAEXAMPLEUSERID/web-2.json' },
  { name: 'an identity that would escape its prefix', identity: '../x', hostname: 'web1', throws: /has characters a key must not hold/ },
];
for (const item of keyCases) {
  test(`host report key: ${item.name}`, () => {
    if (item.throws) assert.throws(() => hostReportKey(item.identity, item.hostname), item.throws);
    else assert.equal(hostReportKey(item.identity, item.hostname), item.key);
  });
}

test('the host reports and the monitoring state are not domain folders', () => {
  assert.equal(isReservedFolder('.hosts'), true);
  assert.equal(isReservedFolder('.monitor'), true);
  assert.equal(isReservedFolder('example.com'), false);
  assert.equal(isReservedFolder('.versions'), false);
});

const items = attentionItems({
  failed: [{ domain: 'a.test', step: 'preflight', reason: 'http://www.a.test/.well-known/acme-challenge/x answered 404' }],
  invalidFolders: [],
  backlog: [{ domain: 'b.test', reason: 'another run holds the renewal lock: run r1' }],
  served: [{ domain: 'c.test', name: 'www.c.test', kind: 'mismatch', detail: 'www.c.test serves serial 01, not the stored serial 02' }],
  hosts: [{ host: 'web1 (AROA:i-1)', kind: 'stale', detail: 'host web1 (AROA:i-1) has not reported since …' }],
});

test('attention: the message names each domain, step, name and host, under its heading', () => {
  const { subject, message } = formatAttention({ service: 'acme-certificates production', runId: 'run-9', at: now, items, events: [{ line: 'd.test: status.json was missing; rewritten from the verified files' }], kind: 'new' });

  assert.ok(subject.length <= 100 && !subject.includes('\n'));
  assert.match(subject, /^acme-certificates production: 4 problem\(s\): a\.test failed at preflight; b\.test due, not renewed;/);
  assert.match(message, /Failed renewals:\n- a\.test: preflight: http:\/\/www\.a\.test\/\.well-known\/acme-challenge\/x answered 404/);
  assert.match(message, /Not renewed \(backlog\):\n- b\.test: due, not renewed: another run holds the renewal lock: run r1/);
  assert.match(message, /Served certificates:\n- c\.test: www\.c\.test serves serial 01, not the stored serial 02/);
  assert.match(message, /Hosts:\n- host web1 \(AROA:i-1\) has not reported since/);
  assert.match(message, /In this run:\n- d\.test: status\.json was missing/);
});

const sent = (count: number, ageMs: number, digestOf = items): AttentionState => ({ ...publishDecision(digestOf, [], null, now).state, count, publishedAt: at(-ageMs) });
const decisionCases: { name: string; items: typeof items; events?: { line: string }[]; last: AttentionState | null; send: string | null }[] = [
  { name: 'problems never sent are sent', items, last: null, send: 'new' },
  { name: 'the same problems sent an hour ago are not sent again', items, last: sent(items.length, hour), send: null },
  { name: 'the same problems sent a day ago are sent as a reminder', items, last: sent(items.length, REMINDER_MS), send: 'reminder' },
  { name: 'a changed set of problems is sent', items: items.slice(1), last: sent(items.length, hour), send: 'new' },
  { name: 'no problems after some were sent is an all clear', items: [], last: sent(items.length, hour), send: 'cleared' },
  { name: 'no problems, and none sent before, sends nothing', items: [], last: null, send: null },
  { name: 'an event is sent even when the problems did not change', items, events: [{ line: 'a repair' }], last: sent(items.length, hour), send: 'new' },
];
for (const item of decisionCases) {
  test(`attention: ${item.name}`, () => {
    assert.equal(publishDecision(item.items, item.events ?? [], item.last, now).send, item.send);
  });
}
