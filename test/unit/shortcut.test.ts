import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusShortcut, vouchFor, voucherStale, type ListedFolder, type Vouched } from '../../functions/core/shortcut.js';
import type { CertificateFacts } from '../../functions/core/certificate.js';
import type { DomainStatus } from '../../functions/core/status.js';

const now = new Date('2026-03-01T00:00:00Z');
const vouched: Vouched = {
  version: 1,
  etags: { 'domain.crt': '"crt1"', 'domain.key': '"key1"', 'config.json': null },
  publicKeySha256: 'a'.repeat(64),
  certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
  rootsSha256: 'r'.repeat(64),
  chainNotAfter: '2027-03-12T00:00:00.000Z',
  verifiedAt: '2026-02-28T00:00:00.000Z',
};
const status: DomainStatus = {
  domain: 'a.test', names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', serial: '0abc', issuer: 'CN=R11',
  notBefore: '2026-02-15T03:05:00.000Z', notAfter: '2026-05-16T03:05:00.000Z', renewedAt: '2026-02-15T03:05:10.000Z', files: {},
  lastAttempt: { at: '2026-02-15T03:05:10.000Z', runId: 'r1', outcome: 'renewed' },
  vouched,
};
const listed: ListedFolder = { etags: { 'domain.crt': '"crt1"', 'domain.key': '"key1"', 'status.json': '"s1"', '': '"m"' }, locked: false };
const expect = { rootsSha256: 'r'.repeat(64), defaults: { names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256' as const } };

const cases: { name: string; status: DomainStatus | null; listed?: ListedFolder; at?: Date; expect?: typeof expect; readAll: RegExp | null }[] = [
  { name: 'vouches for an unchanged folder verified a day ago', status, listed, readAll: null },
  { name: 'reads the whole folder when domain.crt changed (tampered, or put back by hand)', status, listed: { ...listed, etags: { ...listed.etags, 'domain.crt': '"crt2"' } }, readAll: /domain.crt changed/ },
  { name: 'reads the whole folder when domain.key changed (a renewal that failed before its commit)', status, listed: { ...listed, etags: { ...listed.etags, 'domain.key': '"key2"' } }, readAll: /domain.key changed/ },
  { name: 'reads the whole folder when a config.json appeared', status, listed: { ...listed, etags: { ...listed.etags, 'config.json': '"c1"' } }, readAll: /config.json changed/ },
  { name: 'reads the whole folder when config.json was deleted', status: { ...status, vouched: { ...vouched, etags: { ...vouched.etags, 'config.json': '"c1"' } } }, listed, readAll: /config.json changed/ },
  { name: 'reads the whole folder when domain.crt is gone', status, listed: { ...listed, etags: { 'domain.key': '"key1"' } }, readAll: /domain.crt changed/ },
  { name: 'reads the whole folder of a status.json from before', status: { ...status, vouched: undefined }, listed, readAll: /vouches for nothing yet/ },
  { name: 'reads the whole folder without a readable status.json', status: null, listed, readAll: /no readable status.json/ },
  { name: 'reads the whole folder after a failed attempt', status: { ...status, lastAttempt: { at: '2026-03-01T00:00:00.000Z', runId: 'r2', outcome: 'failed', step: 'validate', reason: 'x' } }, listed, readAll: /last attempt failed/ },
  { name: 'reads the whole folder of a revoked certificate', status: { ...status, revoked: { serial: '0abc', at: '2026-03-01T00:00:00.000Z', reason: 'keyCompromise' } }, listed, readAll: /revocation/ },
  { name: 'reads the whole folder with a refused key recorded', status: { ...status, refusedKeySha256: 'f'.repeat(64) }, listed, readAll: /refused key/ },
  { name: 'reads the whole folder while a lock stands', status, listed: { ...listed, locked: true }, readAll: /lock stands/ },
  { name: 'reads the whole folder under other trusted roots (staging to production)', status, listed, expect: { ...expect, rootsSha256: 'p'.repeat(64) }, readAll: /trusted roots changed/ },
  { name: 'reads the whole folder once an intermediate expired', status: { ...status, vouched: { ...vouched, chainNotAfter: '2026-02-28T00:00:00.000Z' } }, listed, readAll: /intermediate of the chain expired/ },
  { name: 'reads the whole folder verified a week ago (a hand edit is caught within a week)', status, listed, at: new Date('2026-03-07T00:00:00Z'), readAll: /a week ago or more/ },
  { name: 'reads the whole folder when the default names changed', status, listed, expect: { ...expect, defaults: { names: ['a.test'], keyType: 'ecdsa-p256' } }, readAll: /default names or key type changed/ },
  { name: 'reads the whole folder of a status naming no certificate', status: { ...status, serial: null }, listed, readAll: /names no certificate/ },
  { name: 'reads the whole folder with unreadable dates', status: { ...status, notAfter: 'soon' }, listed, readAll: /unreadable dates/ },
  { name: 'reads the whole folder not in the listing', status, readAll: /not in the listing/ },
];

for (const { name, status: given, listed: folder, at, expect: expected, readAll } of cases) {
  test(name, () => {
    const result = statusShortcut(given, folder, at ?? now, expected ?? expect);

    if (readAll) assert.match('readAll' in result ? result.readAll : '', readAll);
    else assert.deepEqual('facts' in result ? result.facts : null, { names: status.names, keyType: 'ecdsa-p256', notBefore: new Date(status.notBefore as string), notAfter: new Date(status.notAfter as string), publicKeySha256: 'a'.repeat(64), certId: vouched.certId, serial: '0abc' });
  });
}

const certificate: CertificateFacts = { serial: '0abc', names: ['a.test', 'www.a.test'], subject: 'CN=a.test', issuer: 'CN=R11', notBefore: new Date(status.notBefore as string), notAfter: new Date(status.notAfter as string), publicKeySha256: 'a'.repeat(64), fingerprintSha256: 'AB' };
const vouch = (over: Partial<Parameters<typeof vouchFor>[0]> = {}) => vouchFor({ status, certificate, config: { names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', profile: null, reuseKey: false }, fileEtags: { 'domain.crt': '"crt1"', 'domain.key': '"key1"' }, certId: vouched.certId, chainNotAfter: new Date(vouched.chainNotAfter), rootsSha256: 'r'.repeat(64), now, ...over });

test('vouches for a folder verified whole whose status.json describes the verified certificate', () => {
  assert.deepEqual(vouch(), { ...vouched, verifiedAt: now.toISOString() });
});

test('never vouches for a status.json whose facts are not the verified certificate\'s (edited by hand)', () => {
  assert.equal(vouch({ status: { ...status, notAfter: '2027-05-16T03:05:00.000Z' } }), null);
  assert.equal(vouch({ status: { ...status, names: ['a.test'] } }), null);
  assert.equal(vouch({ status: { ...status, serial: '0abd' } }), null);
  assert.equal(vouch({ config: { names: ['a.test'], keyType: 'ecdsa-p256', profile: null, reuseKey: false } }), null);
});

test('renews a voucher when its facts changed or a day of it passed, not otherwise', () => {
  const fresh = { ...vouched, verifiedAt: '2026-02-28T12:00:00.000Z' };

  assert.equal(voucherStale(undefined, vouched, now), true);
  assert.equal(voucherStale(fresh, { ...fresh, verifiedAt: now.toISOString() }, now), false);
  assert.equal(voucherStale(vouched, { ...vouched, verifiedAt: now.toISOString() }, now), true);
  assert.equal(voucherStale(fresh, { ...fresh, rootsSha256: 'p'.repeat(64) }, now), true);
});
