/**
 * The host agent's sync decisions, table-tested without nginx or a bucket: one line per case.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  planConfirmation, planDomain, pruneProblem, rollbackProblem,
  type DomainChange, type DomainPlan, type DomainRecord, type FetchedPair, type InstalledPair, type ListedDomain, type PairFacts, type References,
} from '../../functions/core/sync-plan.js';

const domain = 'example.com';
const now = new Date('2026-12-01T00:00:00Z');
const day = 86_400_000;
const iso = (offsetDays: number) => new Date(now.getTime() + offsetDays * day).toISOString();

function facts(id: string, overrides: Partial<PairFacts> = {}): PairFacts {
  return { serial: `serial-${id}`, notBefore: iso(-10), notAfter: iso(80), names: [domain, `www.${domain}`], placeholder: false, digests: { fullChain: `crt-${id}`, key: `key-${id}` }, ...overrides };
}
const placeholderFacts = facts('ph', { placeholder: true, names: [domain, `www.${domain}`], notAfter: iso(3650) });
const installed = (pair: PairFacts, version: string | null = 'v1'): InstalledPair => ({ ...pair, version });
const record = (pair: PairFacts, version: string | null = 'v1', etags: DomainRecord['etags'] = { fullChain: 'e-crt-1', key: 'e-key-1' }, installedAt = iso(-1)): DomainRecord => ({
  ...pair, version, etags, installedAt, served: 'confirmed',
});
const listed = (crt = 'e-crt-1', key = 'e-key-1', status = true): ListedDomain => ({ fullChain: crt, key, status });
const verified = (pair: PairFacts, crt = 'e-crt-2', key = 'e-key-2'): FetchedPair => ({ verified: true, facts: pair, etags: { fullChain: crt, key } });
const refusal: FetchedPair = { verified: false, reason: 'refused: certificate public key does not match the domain key' };

const current = facts('1');
const renewed = facts('2', { notBefore: iso(-1), notAfter: iso(89) });
const older = facts('0', { notBefore: iso(-40), notAfter: iso(50) });
const expired = facts('x', { notBefore: iso(-100), notAfter: iso(-10) });
const expiring = facts('e', { notBefore: iso(-70), notAfter: iso(20) });
const lapsing = `the installed certificate expires ${expiring.notAfter} (20.0 days left, less than a quarter of its lifetime), and the bucket has no newer one (is the renew function failing for it?)`;
const oldPlaceholder = record(placeholderFacts, 'v1', null, iso(-3));

const cases: { name: string; listed: ListedDomain; record: DomainRecord | null; installed: InstalledPair | null; fetched?: FetchedPair; expect: DomainPlan }[] = [
  // First phase: the listing, the record and what is installed.
  { name: 'keeps a confirmed pair whose objects have the recorded ETags', listed: listed(), record: record(current), installed: installed(current), expect: { action: 'keep', record: null } },
  { name: 'fetches when the certificate object has a new ETag', listed: listed('e-crt-2'), record: record(current), installed: installed(current), expect: { action: 'fetch' } },
  { name: 'fetches when the key object has a new ETag', listed: listed('e-crt-1', 'e-key-2'), record: record(current), installed: installed(current), expect: { action: 'fetch' } },
  { name: 'fetches when nothing is recorded (a new host, or a lost state file)', listed: listed(), record: null, installed: installed(current), expect: { action: 'fetch' } },
  { name: 'fetches when the symlink points at another version than the recorded one', listed: listed(), record: record(current, 'v1'), installed: installed(current, 'v2'), expect: { action: 'fetch' } },
  { name: 'fetches when the installed files are gone though recorded', listed: listed(), record: record(current), installed: null, expect: { action: 'fetch' } },
  { name: 'fetches when a placeholder is confirmed and the bucket now has a pair', listed: listed(), record: record(placeholderFacts, 'v1', null), installed: installed(placeholderFacts), expect: { action: 'fetch' } },
  { name: 'installs a placeholder for a folder without a pair and nothing installed', listed: {}, record: null, installed: null, expect: { action: 'placeholder' } },
  { name: 'installs a placeholder when status.json is missing and nothing is installed', listed: { fullChain: 'c', key: 'k' }, record: null, installed: null, expect: { action: 'placeholder' } },
  { name: 'keeps a confirmed placeholder while the bucket has no pair', listed: {}, record: record(placeholderFacts, 'v1', null), installed: installed(placeholderFacts), expect: { action: 'keep', record: null } },
  { name: 'reconfirms a placeholder whose reload was never confirmed', listed: {}, record: null, installed: installed(placeholderFacts), expect: { action: 'reconfirm', pair: installed(placeholderFacts), etags: null } },
  { name: 'reconfirms a real pair found installed without a record while the bucket has none', listed: {}, record: null, installed: installed(current, null), expect: { action: 'reconfirm', pair: installed(current, null), etags: null } },
  { name: 'keeps a confirmed pair whose objects left the bucket (no --prune)', listed: {}, record: record(current), installed: installed(current), expect: { action: 'keep', record: null } },
  // Keeping what is installed is a failure when it is about to lapse.
  { name: 'keeps, and fails, a certificate with less than a quarter of its lifetime left and nothing newer', listed: listed(), record: record(expiring), installed: installed(expiring), expect: { action: 'keep', record: null, failure: lapsing } },
  { name: 'keeps, and fails, an expired certificate the bucket has nothing to replace', listed: {}, record: record(expired), installed: installed(expired), expect: { action: 'keep', record: null, failure: `the installed certificate expired ${expired.notAfter}, and the bucket has no newer one` } },
  { name: 'keeps, and fails, a placeholder still served three days after it was installed', listed: {}, record: oldPlaceholder, installed: installed(placeholderFacts), expect: { action: 'keep', record: null, failure: `still a self-signed placeholder, installed ${oldPlaceholder.installedAt}: the bucket has had no certificate for it since (is the renew function failing for it?)` } },
  { name: 'reconfirms, and fails, an unreadable certificate found installed while the bucket has none', listed: {}, record: null, installed: installed(facts('u', { serial: 'unreadable', names: [], notBefore: iso(-99999), notAfter: iso(-99999) })), expect: { action: 'reconfirm', pair: installed(facts('u', { serial: 'unreadable', names: [], notBefore: iso(-99999), notAfter: iso(-99999) })), etags: null, failure: 'the installed certificate cannot be read, and the bucket has no certificate to replace it' } },
  { name: 'installs a bucket certificate that is itself lapsing, and fails', listed: listed('e-crt-2'), record: record(expired), installed: installed(expired), fetched: verified(expiring), expect: { action: 'install', pair: expiring, etags: { fullChain: 'e-crt-2', key: 'e-key-2' }, failure: lapsing } },
  { name: 'installs a renewal over an expiring certificate, without a failure', listed: listed('e-crt-2'), record: record(expiring), installed: installed(expiring), fetched: verified(renewed), expect: { action: 'install', pair: renewed, etags: { fullChain: 'e-crt-2', key: 'e-key-2' } } },
  // Second phase: after fetching and verifying the bucket's pair.
  { name: 'installs a renewed certificate', listed: listed('e-crt-2', 'e-key-2'), record: record(current), installed: installed(current), fetched: verified(renewed), expect: { action: 'install', pair: renewed, etags: { fullChain: 'e-crt-2', key: 'e-key-2' } } },
  { name: 'installs over a placeholder', listed: listed(), record: record(placeholderFacts, 'v1', null), installed: installed(placeholderFacts), fetched: verified(current), expect: { action: 'install', pair: current, etags: { fullChain: 'e-crt-2', key: 'e-key-2' } } },
  { name: 'installs when nothing is installed', listed: listed(), record: null, installed: null, fetched: verified(current), expect: { action: 'install', pair: current, etags: { fullChain: 'e-crt-2', key: 'e-key-2' } } },
  { name: 'installs a newer certificate that expires sooner (a shorter lifetime)', listed: listed('e-crt-2'), record: record(current), installed: installed(current), fetched: verified(facts('2', { notBefore: iso(-1), notAfter: iso(40) })), expect: { action: 'install', pair: facts('2', { notBefore: iso(-1), notAfter: iso(40) }), etags: { fullChain: 'e-crt-2', key: 'e-key-2' } } },
  { name: 'installs over an expired certificate, even an older one', listed: listed('e-crt-2'), record: record(expired), installed: installed(expired), fetched: verified(facts('3', { notBefore: iso(-200), notAfter: iso(100) })), expect: { action: 'install', pair: facts('3', { notBefore: iso(-200), notAfter: iso(100) }), etags: { fullChain: 'e-crt-2', key: 'e-key-2' } } },
  { name: 'records new ETags for the very pair already confirmed', listed: listed('e-crt-9', 'e-key-9'), record: record(current), installed: installed(current), fetched: verified(current, 'e-crt-9', 'e-key-9'), expect: { action: 'keep', record: { ...record(current), etags: { fullChain: 'e-crt-9', key: 'e-key-9' } } } },
  { name: 'reconfirms the very pair found installed without a record', listed: listed(), record: null, installed: installed(current), fetched: verified(current), expect: { action: 'reconfirm', pair: installed(current), etags: { fullChain: 'e-crt-2', key: 'e-key-2' } } },
  { name: 'refuses a rollback and keeps the installed certificate', listed: listed('e-crt-0'), record: record(current), installed: installed(current), fetched: verified(older), expect: { action: 'keep', record: null, failure: `refused: rollback: the bucket's certificate was issued ${older.notBefore}, before the installed one (${current.notBefore})` } },
  { name: 'keeps a confirmed pair when the bucket pair is refused', listed: listed('e-crt-2'), record: record(current), installed: installed(current), fetched: refusal, expect: { action: 'keep', record: null, failure: refusal.verified ? '' : refusal.reason } },
  { name: 'names both the refusal and the coming lapse when the kept pair is expiring', listed: listed('e-crt-2'), record: record(expiring), installed: installed(expiring), fetched: refusal, expect: { action: 'keep', record: null, failure: `${refusal.verified ? '' : refusal.reason}; ${lapsing}` } },
  { name: 'installs a placeholder when the bucket pair is refused and nothing is installed', listed: listed(), record: null, installed: null, fetched: refusal, expect: { action: 'placeholder', failure: refusal.verified ? '' : refusal.reason } },
  { name: 'reconfirms an unconfirmed placeholder when the bucket pair is refused', listed: listed(), record: null, installed: installed(placeholderFacts), fetched: refusal, expect: { action: 'reconfirm', pair: installed(placeholderFacts), etags: null, failure: refusal.verified ? '' : refusal.reason } },
];

for (const item of cases) {
  test(item.name, () => {
    const plan = planDomain({ domain, listed: item.listed, record: item.record, installed: item.installed, now, ...(item.fetched ? { fetched: item.fetched } : {}) });

    assert.deepEqual(plan, item.expect);
  });
}

const rollbackCases: { name: string; installed: PairFacts; bucket: PairFacts; problem: boolean }[] = [
  { name: 'an older certificate over a valid one is a rollback', installed: current, bucket: older, problem: true },
  { name: 'a newer certificate is not', installed: current, bucket: renewed, problem: false },
  { name: 'the same notBefore is not', installed: current, bucket: facts('same', { notBefore: current.notBefore }), problem: false },
  { name: 'anything over a placeholder is not', installed: placeholderFacts, bucket: older, problem: false },
  { name: 'anything over an expired certificate is not', installed: expired, bucket: facts('y', { notBefore: iso(-300), notAfter: iso(3) }), problem: false },
  { name: 'anything over a certificate for other names is not', installed: facts('other', { names: ['other.example'] }), bucket: older, problem: false },
];
for (const item of rollbackCases) {
  test(`rollback: ${item.name}`, () => {
    assert.equal(rollbackProblem(domain, item.installed, item.bucket, now) !== null, item.problem);
  });
}

function change(name: string, pair: PairFacts = facts(name, { names: [name, `www.${name}`] })): DomainChange {
  return { domain: name, record: { ...pair, etags: null, version: 'v', installedAt: iso(0) } };
}
const some = (...domains: string[]): References => ({ kind: 'some', domains: new Set(domains) });

const confirmationCases: { name: string; changes: DomainChange[]; references: References; reload: boolean; checked: string[]; unreferenced: string[] }[] = [
  { name: 'reloads and checks every name of a certificate nginx uses', changes: [change('a.test')], references: some('a.test'), reload: true, checked: ['a.test', 'www.a.test'], unreferenced: [] },
  { name: 'neither reloads nor checks for a pair no server block uses', changes: [change('a.test')], references: some(), reload: false, checked: [], unreferenced: ['a.test'] },
  { name: 'reloads for the used pair and records the unused one', changes: [change('a.test'), change('b.test')], references: some('b.test'), reload: true, checked: ['b.test', 'www.b.test'], unreferenced: ['a.test'] },
  { name: 'reloads for a placeholder nginx uses, without a TLS check', changes: [change('a.test', { ...placeholderFacts, names: ['a.test'] })], references: some('a.test'), reload: true, checked: [], unreferenced: [] },
  { name: 'counts every pair as used when a certificate path holds a variable', changes: [change('a.test')], references: { kind: 'all' }, reload: true, checked: ['a.test', 'www.a.test'], unreferenced: [] },
  { name: 'counts every pair as used when the test printed no configuration', changes: [change('a.test')], references: { kind: 'unknown' }, reload: true, checked: ['a.test', 'www.a.test'], unreferenced: [] },
  { name: 'needs nothing when nothing changed', changes: [], references: some('a.test'), reload: false, checked: [], unreferenced: [] },
];
for (const item of confirmationCases) {
  test(`confirmation: ${item.name}`, () => {
    const plan = planConfirmation(item.changes, item.references);

    assert.equal(plan.reload, item.reload);
    assert.deepEqual(plan.checks.map((check) => check.name), item.checked);
    assert.deepEqual(plan.unreferenced, item.unreferenced);
  });
}

const pruneCases: { name: string; references: References; allowed: boolean; reason?: RegExp }[] = [
  { name: 'prunes a pair no server block uses', references: some('other.test'), allowed: true },
  { name: 'keeps a pair a server block still uses, and says so', references: some(domain), allowed: false, reason: /still uses \/etc\/nginx\/certs\/example\.com\/domain\.crt/ },
  { name: 'keeps every pair when certificates are chosen by variable', references: { kind: 'all' }, allowed: false, reason: /by variable/ },
  { name: 'keeps every pair when nginx printed no configuration', references: { kind: 'unknown' }, allowed: false, reason: /cannot tell/ },
];
for (const item of pruneCases) {
  test(`prune: ${item.name}`, () => {
    const problem = pruneProblem(domain, item.references, '/etc/nginx/certs/example.com/domain.crt');

    assert.equal(problem === null, item.allowed);
    if (item.reason) assert.match(problem ?? '', item.reason);
  });
}
