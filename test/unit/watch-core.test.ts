/**
 * The decisions behind "never lapse silently", table-tested: locks, what hosts serve, host
 * reports, and the message a person receives.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attentionItems, formatAttention, MESSAGE_LIMIT_BYTES, publishDecision, REMINDER_MS, type AttentionState } from '../../functions/core/attention.js';
import { buildHostReport, judgeHosts } from '../../functions/core/host-report.js';
import { hostReportKey, isReportKeyOf } from '../../functions/core/layout.js';
import { heldReason, judgeLock, LAMBDA_LOCK_MAX_MS, lockBody, lockTtlMs, parseLockHolder } from '../../functions/core/locks.js';
import { judgeServedDomain, summarizeServed, UNREACHABLE_GRACE_MS, type ServedAnswer, type ServedRecord } from '../../functions/core/served.js';
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
  { name: 'a Lambda run\'s longest lock is plausible even when the configured TTL is shorter', text: body({ runId: 'run-a', acquiredAt: at(0), expiresAt: at(LAMBDA_LOCK_MAX_MS) }), take: false },
  { name: 'a lock that is not JSON is broken and taken over', text: 'garbage', take: true, why: 'broken', detail: /cannot be read \("garbage"\)/ },
  { name: 'a lock without an expiry is broken and taken over', text: body({ runId: 'run-a' }), take: true, why: 'broken' },
  { name: 'a lock with an unparsable expiry is broken and taken over', text: body({ runId: 'run-a', expiresAt: 'soon' }), take: true, why: 'broken' },
  { name: 'an empty lock object is broken and taken over', text: '', take: true, why: 'broken' },
  { name: 'a live lock is broken when a run is asked to', text: body({ runId: 'run-a', acquiredAt: at(-minute), expiresAt: at(10 * minute) }), breakLocks: true, take: true, why: 'asked', detail: /broke the lock as asked \(held by run run-a/ },
  { name: 'a lock of the earlier format (owner) is read', text: body({ owner: 'run-old', acquiredAt: at(-minute), expiresAt: at(10 * minute) }), take: false },
];
for (const item of lockCases) {
  test(`lock: ${item.name}`, () => {
    const judgement = judgeLock(item.text, now, item.name.includes('configured TTL is shorter') ? minute : ttl, item.breakLocks ?? false);

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
  { name: 'in an invocation, its time left plus a minute, even beyond the configured TTL', timeLeft: 14 * minute + 30_000, expect: 15 * minute + 30_000 },
  { name: 'near an invocation\'s end, its time left plus a minute', timeLeft: 4 * minute, expect: 5 * minute },
  { name: 'never less than a minute', timeLeft: 0, expect: minute },
];
for (const item of ttlCases) {
  test(`lock TTL: ${item.name}`, () => {
    assert.equal(lockTtlMs(ttl, item.timeLeft), item.expect);
  });
}

const reached = (name: string, serial: string, notBefore: string, notAfter: string, address = '192.0.2.1'): ServedAnswer => ({ name, address, reached: true, serial, notBefore, notAfter, issuer: 'CN=R11' });
const refused = (name: string, address = '192.0.2.1'): ServedAnswer => ({ name, address, reached: false, error: `${address} port 443: connect ECONNREFUSED` });
const judge = (answers: ServedAnswer[], options: { stored?: { serial: string; renewedAt: string | null } | null; previous?: Record<string, ServedRecord>; at?: Date; grace?: number } = {}) =>
  judgeServedDomain({ domain: 'a.test', answers, stored: options.stored === undefined ? stored : options.stored, previous: options.previous, now: options.at ?? now, mismatchGraceMs: options.grace ?? 3 * hour, lapseFraction: 0.25 });
const stored = { serial: 'new', renewedAt: at(-5 * hour) };
const servedCases: { name: string; answer: ServedAnswer; stored?: typeof stored | null; kinds: string[] }[] = [
  { name: 'the stored certificate with most of its lifetime left is fine', answer: reached('a.test', 'new', at(-10 * day), at(80 * day)), kinds: [] },
  { name: 'a certificate with less than a quarter of its lifetime left is lapsing', answer: reached('a.test', 'new', at(-70 * day), at(20 * day)), kinds: ['lapsing'] },
  { name: 'a certificate with a third of its lifetime left (renewal time) is not lapsing', answer: reached('a.test', 'new', at(-60 * day), at(30 * day)), kinds: [] },
  { name: 'an expired certificate is lapsing', answer: reached('a.test', 'new', at(-100 * day), at(-day)), kinds: ['lapsing'] },
  { name: 'another certificate than the one stored five hours ago is a mismatch', answer: reached('a.test', 'old', at(-40 * day), at(50 * day)), kinds: ['mismatch'] },
  { name: 'another certificate than one stored within the grace is not yet', answer: reached('a.test', 'old', at(-40 * day), at(50 * day)), stored: { serial: 'new', renewedAt: at(-hour) }, kinds: [] },
  { name: 'an old, lapsing certificate served instead of the stored one is both', answer: reached('a.test', 'old', at(-80 * day), at(5 * day)), kinds: ['lapsing', 'mismatch'] },
  { name: 'any certificate for a domain the bucket has none for is no mismatch', answer: reached('a.test', 'self', at(-day), at(3650 * day)), stored: null, kinds: [] },
  { name: 'a name no handshake reaches is not yet unreachable at the first check', answer: refused('a.test'), kinds: [] },
];
for (const item of servedCases) {
  test(`served: ${item.name}`, () => {
    const judgement = judge([item.answer], { stored: item.stored });

    assert.deepEqual(judgement.findings.map((finding) => finding.kind), item.kinds);
  });
}

test('served: records are rewritten only when what is served changes; `since` keeps when a state began', () => {
  const answers = [reached('a.test', 'new', at(-10 * day), at(80 * day))];
  const first = judge(answers, { grace: hour });
  const later = new Date(now.getTime() + hour);
  const again = judge(answers, { previous: first.records, at: later, grace: hour });
  const changed = judge([reached('a.test', 'newer', at(0), at(90 * day))], { previous: first.records, at: later, grace: hour });

  assert.equal(first.changed, true);
  assert.deepEqual(first.records['a.test'], { serial: 'new', notAfter: at(80 * day), issuer: 'CN=R11', stored: true, since: now.toISOString() });
  assert.equal(again.changed, false);
  assert.equal(again.records['a.test']?.since, now.toISOString());
  assert.equal(changed.changed, true);
  assert.equal(changed.records['a.test']?.since, later.toISOString());
});

test('served: a name unreachable at two checks 50 minutes apart is a finding; one that answers again is not', () => {
  const first = judge([refused('a.test')]);
  const soon = judge([refused('a.test')], { previous: first.records, at: new Date(now.getTime() + 20 * minute) });
  const later = judge([refused('a.test')], { previous: soon.records, at: new Date(now.getTime() + UNREACHABLE_GRACE_MS) });
  const back = judge([reached('a.test', 'new', at(-10 * day), at(80 * day))], { previous: later.records, at: new Date(now.getTime() + 2 * hour) });

  assert.deepEqual([first, soon, later, back].map((judgement) => judgement.findings.map((finding) => finding.kind)), [[], [], ['unreachable'], []]);
  assert.deepEqual(first.records['a.test'], { unreachable: '192.0.2.1 port 443: connect ECONNREFUSED', since: now.toISOString() });
  assert.equal(soon.changed, false, 'the same failure at the next check is no change to record');
  assert.match(later.findings[0]?.detail ?? '', /^a\.test: cannot be reached over TLS since 2026-12-01T12:00:00\.000Z: 192\.0\.2\.1 port 443/);
});

test('served: a name with several addresses is recorded and judged per address', () => {
  const answers = [reached('a.test', 'new', at(-10 * day), at(80 * day), '2001:db8::1'), reached('a.test', 'old', at(-80 * day), at(10 * day), '192.0.2.1')];

  const judgement = judge(answers);

  assert.deepEqual(Object.keys(judgement.records).sort(), ['a.test [192.0.2.1]', 'a.test [2001:db8::1]']);
  assert.deepEqual(judgement.findings.map((finding) => `${finding.kind}: ${finding.detail.split(' serves')[0]}`), ['lapsing: a.test at 192.0.2.1', 'mismatch: a.test at 192.0.2.1']);
});

test('served: the summary gives the least lifetime and days left, and counts each kind of finding', () => {
  const judgements = [
    judge([reached('a.test', 'new', at(-10 * day), at(80 * day)), reached('www.a.test', 'old', at(-60 * day), at(30 * day))], { grace: hour }),
    judge([refused('b.test')], { previous: { 'b.test': { unreachable: 'timeout', since: at(-hour) } }, grace: hour }),
  ];

  const summary = summarizeServed(judgements);

  assert.equal(summary.minDaysLeft, 30);
  assert.equal(summary.minFractionLeft?.toFixed(3), (30 / 90).toFixed(3));
  assert.deepEqual([summary.mismatched, summary.unreachable, summary.lapsing], [1, 1, 0]);
});

const record = (serial: string, placeholder = false): DomainRecord => ({ serial, notBefore: at(-day), notAfter: at(80 * day), names: ['a.test'], placeholder, digests: { fullChain: 'c', key: 'k' }, version: 'v', etags: null, installedAt: at(-day), served: 'confirmed' });
const report = (atMs: number, domains: Record<string, DomainRecord>, failures: string[] = []) => JSON.stringify(buildHostReport({ id: 'AROAEXAMPLE:i-0abc', name: 'web1', at: new Date(now.getTime() + atMs), agentVersion: '0.1.0', records: domains, failures }));
const storedSerials = new Map([['a.test', { serial: 'new', renewedAt: at(-5 * hour) }], ['b.test', { serial: 'b1', renewedAt: at(-30 * day) }]]);
const hostCases: { name: string; text: string | null; storedAgo?: number; findings: string[] }[] = [
  { name: 'a host that reported an hour ago, serving the stored serials, is fine', text: report(-hour, { 'a.test': record('new'), 'b.test': record('b1') }), findings: [] },
  { name: 'a host silent for four hours is stale', text: report(-4 * hour, { 'a.test': record('new') }), storedAgo: 4 * hour, findings: ['stale'] },
  { name: 'staleness counts from when S3 stored the report, not the time the host wrote in it (a host clock)', text: report(-4 * hour, { 'a.test': record('new') }), storedAgo: hour, findings: [] },
  { name: 'a host serving the serial replaced five hours ago is behind on that domain', text: report(-hour, { 'a.test': record('old'), 'b.test': record('b1') }), findings: ['behind:a.test'] },
  { name: 'a host still serving a placeholder for a domain the bucket has a certificate for is behind', text: report(-hour, { 'b.test': record('ph', true) }), findings: ['behind:b.test'] },
  { name: 'a host whose last run failed is failing, with its reason', text: report(-hour, {}, ['a.test: refused: certificate public key does not match the domain key']), findings: ['failing'] },
  { name: 'a report that cannot be read is unreadable', text: '{"version": 2}', findings: ['unreadable'] },
];
for (const item of hostCases) {
  test(`hosts: ${item.name}`, () => {
    const findings = judgeHosts([{ key: '.host-report.AROAEXAMPLE:i-0abc.web1.json', storedAt: new Date(now.getTime() - (item.storedAgo ?? hour)), text: item.text }], storedSerials, now, 3 * hour, 3 * hour);

    assert.deepEqual(findings.map((finding) => (finding.domain ? `${finding.kind}:${finding.domain}` : finding.kind)), item.findings);
  });
}

test('hosts: the findings name the host by hostname and identity', () => {
  const [finding] = judgeHosts([{ key: '.host-report.AROAEXAMPLE:i-0abc.web1.json', storedAt: new Date(now.getTime() - 4 * hour), text: report(-4 * hour, {}) }], storedSerials, now, 3 * hour, 3 * hour);

  assert.match(finding?.detail ?? '', /^host web1 \(AROAEXAMPLE:i-0abc\) has not reported since 2026-12-01T08:00:00\.000Z \(4 hours ago\): is its agent running\? \(If the host is retired, delete its report \.host-report\.AROAEXAMPLE:i-0abc\.web1\.json\.\)$/);
});

const keyCases: { name: string; identity: string; hostname: string; key?: string; throws?: RegExp }[] = [
  { name: 'an instance role\'s session', identity: 'AROAEXAMPLEID:i-0123456789abcdef0', hostname: 'Web1.example.com', key: '.host-report.AROAEXAMPLEID:i-0123456789abcdef0.web1.example.com.json' },
  { name: 'an IAM user', identity: 'AIDAEXAMPLEUSERID', hostname: 'web_2', key: '.host-report.AIDAEXAMPLEUSERID.web-2.json' },
  { name: 'an identity that would escape its prefix', identity: '../x', hostname: 'web1', throws: /has characters a key must not hold/ },
];
for (const item of keyCases) {
  test(`host report key: ${item.name}`, () => {
    if (item.throws) assert.throws(() => hostReportKey(item.identity, item.hostname), item.throws);
    else assert.equal(hostReportKey(item.identity, item.hostname), item.key);
  });
}

test('host report key: a report counts only under the key of the identity it names (what the host policy lets that identity write)', () => {
  assert.equal(isReportKeyOf('.host-report.AROAEXAMPLE:i-0abc.web1.json', 'AROAEXAMPLE:i-0abc'), true);
  assert.equal(isReportKeyOf('.host-report.AROAEXAMPLE:i-0abc.web1.json', 'AROAOTHER:i-0abc'), false);
  assert.equal(isReportKeyOf('.host-report.AROAEXAMPLE:i-0abcd.web1.json', 'AROAEXAMPLE:i-0abc'), false);
});

test('hosts: a report whose key belongs to another identity than the one it names is unreadable, not trusted', () => {
  const findings = judgeHosts([{ key: '.host-report.AROAOTHER:i-9.web1.json', storedAt: now, text: report(-hour, { 'a.test': record('new') }) }], storedSerials, now, 3 * hour, 3 * hour);

  assert.deepEqual(findings.map((finding) => finding.kind), ['unreadable']);
  assert.match(findings[0]?.detail ?? '', /names identity AROAEXAMPLE:i-0abc, not the one its key belongs to/);
});

const items = attentionItems({
  stopped: [],
  schedule: [],
  unchecked: [],
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

test('attention: a stopped run, a schedule warning and what was not checked each have a section', () => {
  const more = attentionItems({
    stopped: [{ what: 'renewal run', reason: 'stopped before renewing anything: reading s3://certs: AccessDenied' }],
    failed: [], invalidFolders: [], backlog: [], served: [], hosts: [],
    schedule: [{ domain: 'e.test', warning: 'the certificate expires 2026-12-07, before the next scheduled run 2026-12-15' }],
    unchecked: [{ what: 'f.test', reason: 'not checked: too little time was left in this invocation' }],
  });

  const { message } = formatAttention({ service: 's', runId: 'r', at: now, items: more, events: [], kind: 'new' });

  assert.deepEqual(more.map((item) => item.section), ['Failed runs', 'Schedule', 'Not checked']);
  assert.match(message, /Failed runs:\n- renewal run: stopped before renewing anything: reading s3:\/\/certs: AccessDenied/);
  assert.match(message, /Schedule:\n- e\.test: the certificate expires/);
  assert.match(message, /Not checked:\n- f\.test: not checked: too little time/);
});

test('attention: a message too long for SNS is cut, saying how much was left out; a PEM block never reaches it', () => {
  const many = attentionItems({
    stopped: [], invalidFolders: [], backlog: [], served: [], hosts: [], schedule: [], unchecked: [],
    failed: Array.from({ length: 5000 }, (_, index) => ({ domain: `d${index}.test`, step: 'preflight', reason: `${'x'.repeat(60)} -----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----` })),
  });

  const { message } = formatAttention({ service: 's', runId: 'r', at: now, items: many, events: [], kind: 'new' });

  assert.ok(new TextEncoder().encode(message).length <= MESSAGE_LIMIT_BYTES);
  assert.match(message, /\.\.\. and \d+ more line\(s\), left out to fit the message\.\nThe function's log has every step/);
  assert.doesNotMatch(message, /BEGIN PRIVATE KEY|MIIB/);
});
