import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CertificateFacts } from '../../functions/core/certificate.js';
import { failedAttemptStatus, formatStatus, issuedStatus, parseStatus, statusRepairReason, type DomainStatus } from '../../functions/core/status.js';

const certificate: CertificateFacts = {
  serial: '01ab',
  names: ['a.test', 'www.a.test'],
  subject: 'CN=a.test',
  issuer: 'C=US, O=Let\'s Encrypt, CN=R11',
  notBefore: new Date('2026-01-15T02:05:00Z'),
  notAfter: new Date('2026-04-15T02:05:00Z'),
  publicKeySha256: 'a'.repeat(64),
  fingerprintSha256: 'AB:CD',
};
const files = { 'domain.crt': 'c'.repeat(64), 'domain.key': 'k'.repeat(64) };
const at = new Date('2026-01-15T03:05:10Z');
const issued = issuedStatus({ domain: 'a.test', keyType: 'ecdsa-p256', certificate, files, versions: {}, at, runId: 'run-1' });

test('records the facts, digests and a renewed attempt of a freshly stored certificate', () => {
  const expected: DomainStatus = {
    domain: 'a.test',
    names: ['a.test', 'www.a.test'],
    keyType: 'ecdsa-p256',
    serial: '01ab',
    issuer: 'C=US, O=Let\'s Encrypt, CN=R11',
    notBefore: '2026-01-15T02:05:00.000Z',
    notAfter: '2026-04-15T02:05:00.000Z',
    renewedAt: '2026-01-15T03:05:10.000Z',
    files,
    lastAttempt: { at: '2026-01-15T03:05:10.000Z', runId: 'run-1', outcome: 'renewed' },
  };

  const status = issuedStatus({ domain: 'a.test', keyType: 'ecdsa-p256', certificate, files, versions: {}, at, runId: 'run-1' });

  assert.deepEqual(status, expected);
});

test('keeps the certificate facts and digests when recording a failed attempt', () => {
  const attempt = { at: new Date('2026-02-15T03:05:00Z'), runId: 'run-2', step: 'validate', reason: 'connection refused' };

  const status = failedAttemptStatus(issued, 'a.test', attempt);

  assert.deepEqual(status, { ...issued, lastAttempt: { at: '2026-02-15T03:05:00.000Z', runId: 'run-2', outcome: 'failed', step: 'validate', reason: 'connection refused' } });
  assert.equal(issued.lastAttempt?.outcome, 'renewed', 'the previous status is not changed');
});

test('records a failed attempt for a domain that has no status yet', () => {
  const attempt = { at: new Date('2026-02-15T03:05:00Z'), runId: 'run-2', step: 'order', reason: 'rate limited' };

  const status = failedAttemptStatus(null, 'a.test', attempt);

  assert.deepEqual(status, {
    domain: 'a.test', names: [], keyType: null, serial: null, issuer: null, notBefore: null, notAfter: null, renewedAt: null, files: {},
    lastAttempt: { at: '2026-02-15T03:05:00.000Z', runId: 'run-2', outcome: 'failed', step: 'order', reason: 'rate limited' },
  });
});

test('formats a status as indented JSON with one trailing newline', () => {
  const text = formatStatus(issued);

  assert.ok(text.startsWith('{\n  "domain": "a.test",\n'));
  assert.ok(text.endsWith('}\n') && !text.endsWith('\n\n'));
});

test('reads back a formatted status unchanged', () => {
  const text = formatStatus(issued);

  const status = parseStatus(text);

  assert.deepEqual(status, issued);
});

const unreadable: { name: string; text: string | null }[] = [
  { name: 'reads no status from an absent file', text: null },
  { name: 'reads no status from text that is not JSON', text: '{"domain": ' },
  { name: 'reads no status from an empty file', text: '' },
  { name: 'reads no status from JSON null', text: 'null' },
  { name: 'reads no status from a JSON string', text: '"a.test"' },
  { name: 'reads no status from an object without files', text: '{"domain": "a.test"}' },
  { name: 'reads no status from an object whose files is null', text: '{"domain": "a.test", "files": null}' },
  { name: 'reads no status from an object whose files is a string', text: '{"domain": "a.test", "files": "x"}' },
];

for (const { name, text } of unreadable) {
  test(name, () => {
    const status = parseStatus(text);

    assert.equal(status, null);
  });
}

const verifiedPair = { certificate, fullChainSha256: files['domain.crt'], keySha256: files['domain.key'] };
const repairCases: { name: string; text: string | null; verified?: typeof verifiedPair | null; reason: RegExp | null }[] = [
  { name: 'a status that describes the verified files needs no repair', text: formatStatus(issued), reason: null },
  { name: 'a missing status is repaired', text: null, reason: /^status\.json was missing$/ },
  { name: 'an unreadable status is repaired', text: '{"domain": "a.te', reason: /^status\.json could not be read$/ },
  { name: 'a status naming no serial (a failed run that could not read it) is repaired', text: formatStatus(failedAttemptStatus(null, 'a.test', { at, runId: 'run-2', step: 'preflight', reason: 'x' })), reason: /^status\.json does not name the stored certificate \(serial 01ab\)$/ },
  { name: 'a status describing another serial (a renewal whose commit failed) is repaired', text: formatStatus({ ...issued, serial: '02cd' }), reason: /^status\.json describes serial 02cd, not the stored certificate's serial 01ab \(a renewal stored its files but not its status\.json\)$/ },
  { name: 'a status whose digests differ from the verified files is repaired', text: formatStatus({ ...issued, files: { ...files, 'domain.crt': 'd'.repeat(64) } }), reason: /^status\.json's digests do not match the stored certificate and key$/ },
  { name: 'a status without the key digest is repaired (the hosts check the files against it)', text: formatStatus({ ...issued, files: { 'domain.crt': files['domain.crt'] } }), reason: /lacks the digests of the stored certificate and key/ },
  { name: 'nothing is repaired when the stored files do not verify (the folder is renewed instead)', text: null, verified: null, reason: null },
];
for (const item of repairCases) {
  test(`status repair: ${item.name}`, () => {
    const reason = statusRepairReason(item.text, item.verified === undefined ? verifiedPair : item.verified);

    if (item.reason === null) assert.equal(reason, null);
    else assert.match(reason ?? '', item.reason);
  });
}

test('a refused key is recorded, kept through later failures, and dropped by the next renewal', () => {
  const attempt = { at, runId: 'run-2', step: 'finalize', reason: 'the CA refused the domain key' };

  const refused = failedAttemptStatus(issued, 'a.test', attempt, { refusedKeySha256: 'f'.repeat(64) });
  const later = failedAttemptStatus(refused, 'a.test', { ...attempt, step: 'preflight', reason: 'www.a.test answered 404' });
  const renewed = issuedStatus({ domain: 'a.test', keyType: 'ecdsa-p256', certificate, files, versions: {}, at, runId: 'run-3' });

  assert.equal(refused.refusedKeySha256, 'f'.repeat(64));
  assert.equal(later.refusedKeySha256, 'f'.repeat(64));
  assert.equal(later.lastAttempt?.step, 'preflight');
  assert.equal(renewed.refusedKeySha256, undefined);
});

test('a failed attempt keeps the renewal window it was asked with, so a retry keeps the point chosen in it', () => {
  const renewalInfo = { certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', windowStart: '2026-02-01T00:00:00.000Z', windowEnd: '2026-02-02T00:00:00.000Z', selectedAt: '2026-02-01T12:00:00.000Z', nextFetchAt: '2026-01-15T09:05:10.000Z' };

  const status = failedAttemptStatus(issued, 'a.test', { at, runId: 'run-2', step: 'validate', reason: 'x' }, { renewalInfo });

  assert.deepEqual(status.renewalInfo, renewalInfo);
  assert.deepEqual(status.files, issued.files);
});
