import { test } from 'node:test';
import assert from 'node:assert/strict';
import { domainRow, formatDomainRow } from '../../functions/core/domain-report.js';
import type { HostReport } from '../../functions/core/host-report.js';
import { formatStatus, type DomainStatus } from '../../functions/core/status.js';

const now = new Date('2026-03-01T00:00:00Z');
const good: DomainStatus = {
  domain: 'a.test', names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', serial: '0abc', issuer: 'CN=R11',
  notBefore: '2026-02-15T03:05:00.000Z', notAfter: '2026-05-16T03:05:00.000Z', renewedAt: '2026-02-15T03:05:10.000Z', files: {},
  lastAttempt: { at: '2026-02-15T03:05:10.000Z', runId: 'r1', outcome: 'renewed' },
  served: { 'a.test': { serial: '0abc', notAfter: '2026-05-16T03:05:00.000Z', issuer: 'CN=R11', stored: true, since: '2026-02-15T04:00:00.000Z' } },
};
const report = (serial: string, served: 'confirmed' | 'unreferenced' = 'confirmed'): HostReport => ({
  version: 1, host: { id: 'AROA:i-1', name: 'web1' }, at: '2026-03-01T00:00:00.000Z', agentVersion: '1',
  domains: { 'a.test': { serial, placeholder: false, notAfter: '2026-05-16T03:05:00.000Z', served, installedAt: '2026-02-15T04:00:00.000Z' } }, failures: [],
});
const row = (status: DomainStatus | null, extra: { lockText?: string | null; reports?: HostReport[]; statusText?: string | null } = {}) =>
  domainRow({ domain: 'a.test', statusText: extra.statusText !== undefined ? extra.statusText : status ? formatStatus(status) : null, lockText: extra.lockText ?? null, reports: extra.reports ?? [report('0abc')], now, lapseFraction: 0.25, mismatchGraceMs: 3 * 3_600_000 });

const cases: { name: string; row: () => ReturnType<typeof domainRow>; attention: RegExp[] }[] = [
  { name: 'a renewed domain served and installed everywhere needs nothing', row: () => row(good), attention: [] },
  { name: 'a domain without a certificate yet', row: () => row(null, { reports: [] }), attention: [/^no certificate yet$/] },
  { name: 'an unreadable status.json', row: () => row(null, { statusText: '{', reports: [] }), attention: [/status.json cannot be read/, /no certificate yet/] },
  { name: 'a failed last attempt, with its step and reason', row: () => row({ ...good, lastAttempt: { at: '2026-03-01T00:00:00.000Z', runId: 'r2', outcome: 'failed', step: 'preflight', reason: 'www.a.test answered 404' } }), attention: [/^last attempt failed at preflight: www.a.test answered 404$/] },
  { name: 'a certificate with less than a quarter of its lifetime left', row: () => row({ ...good, notBefore: '2025-12-10T00:00:00.000Z', notAfter: '2026-03-10T00:00:00.000Z' }), attention: [/^9 days left, less than 25% of its lifetime$/] },
  { name: 'an expired certificate', row: () => row({ ...good, notAfter: '2026-02-28T00:00:00.000Z' }), attention: [/^expired 2026-02-28/] },
  { name: 'a revoked certificate', row: () => row({ ...good, revoked: { serial: '0abc', at: '2026-02-20T00:00:00.000Z', reason: 'keyCompromise' } }), attention: [/revoked 2026-02-20.*keyCompromise.*next run renews it/] },
  { name: 'a lock left by a crashed run', row: () => row(good, { lockText: JSON.stringify({ runId: 'r9', acquiredAt: '2026-02-28T00:00:00.000Z', expiresAt: '2026-02-28T00:15:00.000Z' }) }), attention: [/renewal lock that expired 2026-02-28T00:15:00.000Z \(run r9\)/] },
  { name: 'a name serving another certificate', row: () => row({ ...good, served: { 'a.test': { serial: '0999', notAfter: '2026-04-01T00:00:00.000Z', issuer: 'CN=R11', stored: false, since: '2026-02-16T00:00:00.000Z' } } }), attention: [/a.test serves serial 0999, not the stored one/] },
  { name: 'a name serving another certificate within the grace after a renewal is not flagged yet', row: () => row({ ...good, served: { 'a.test': { serial: '0999', notAfter: '2026-04-01T00:00:00.000Z', issuer: 'CN=R11', stored: false, since: '2026-02-28T23:00:00.000Z' } } }), attention: [] },
  { name: 'a name unreachable for longer than the watch allows', row: () => row({ ...good, served: { 'a.test': { unreachable: 'connection refused', since: '2026-02-28T22:00:00.000Z' } } }), attention: [/a.test unreachable since 2026-02-28T22:00:00.000Z: connection refused/] },
  { name: 'a name unreachable for one check is not flagged yet', row: () => row({ ...good, served: { 'a.test': { unreachable: 'connection refused', since: '2026-02-28T23:30:00.000Z' } } }), attention: [] },
];

for (const { name, row: build, attention } of cases) {
  test(`status row: ${name}`, () => {
    const result = build();

    assert.equal(result.attention.length, attention.length, result.attention.join(' | '));
    attention.forEach((pattern, index) => assert.match(result.attention[index] ?? '', pattern));
  });
}

test('a live lock is shown, not flagged; a host with another serial is listed (what hosts do wrong is judged across domains)', () => {
  const renewedNow = { ...good, renewedAt: '2026-02-28T23:00:00.000Z' };

  const result = row(renewedNow, { lockText: JSON.stringify({ runId: 'r3', acquiredAt: '2026-02-28T23:59:00.000Z', expiresAt: '2026-03-01T00:14:00.000Z' }), reports: [report('0aaa')] });

  assert.deepEqual(result.attention, []);
  assert.deepEqual(result.lock, { runId: 'r3', expiresAt: '2026-03-01T00:14:00.000Z', expired: false });
  assert.deepEqual(result.hosts, [{ host: 'web1', serial: '0aaa', current: false, confirmed: true }]);
});

test('one line says the names, the serial and expiry, the last attempt, what is served and what hosts have', () => {
  const line = formatDomainRow(row(good));

  assert.equal(line, 'a.test [a.test www.a.test]: serial 0abc, until 2026-05-16 (76 days); last 2026-02-15 03:05 renewed; served: a.test the stored certificate; hosts: web1 current');
});
