import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { certificateRenewalInfoId, parseRenewalInfo, renewalInfoFresh, renewalInfoId, renewalInfoWorthStoring, storedRenewalInfo, type RenewalInfo } from '../../functions/core/ari.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

// RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4 and serial
// 00:87:65:43:21 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
const RFC_KEY_ID = '69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4';
const RFC_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

const identifiers: { name: string; keyId: string; serial: string; id: string }[] = [
  { name: 'the example of RFC 9773 §4.1', keyId: RFC_KEY_ID, serial: '00:87:65:43:21', id: RFC_ID },
  { name: 'the RFC example with the serial as node prints it (no leading zero)', keyId: RFC_KEY_ID, serial: '87654321', id: RFC_ID },
  { name: 'the RFC example in lower case without separators', keyId: RFC_KEY_ID.replace(/:/g, '').toLowerCase(), serial: '0087654321', id: RFC_ID },
  { name: 'a serial without the high bit, with no zero byte added', keyId: RFC_KEY_ID, serial: '7f01', id: `${RFC_ID.split('.')[0]}.fwE` },
  { name: 'a serial of an odd number of hex digits', keyId: RFC_KEY_ID, serial: 'abc', id: `${RFC_ID.split('.')[0]}.Crw` },
];

for (const { name, keyId, serial, id } of identifiers) {
  test(`builds the ARI certificate identifier of ${name}`, () => {
    const result = renewalInfoId(keyId, serial);

    assert.equal(result, id);
  });
}

test('reads the identifier of a certificate from its Authority Key Identifier and serial number', async () => {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0087654321',
    name: 'CN=a.test',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-04-01T00:00:00Z'),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.AuthorityKeyIdentifierExtension(RFC_KEY_ID.replace(/:/g, '').toLowerCase())],
  });

  const id = certificateRenewalInfoId(certificate.toString('pem'));

  assert.equal(id, RFC_ID);
});

test('gives no identifier for a certificate without an Authority Key Identifier, or for text that is none', async () => {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=a.test', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' }, extensions: [] });

  assert.equal(certificateRenewalInfoId(certificate.toString('pem')), null);
  assert.equal(certificateRenewalInfoId('-----BEGIN CERTIFICATE-----\nbm8=\n-----END CERTIFICATE-----\n'), null);
});

const now = new Date('2026-03-01T00:00:00Z');
const answer = JSON.stringify({ suggestedWindow: { start: '2026-03-10T00:00:00Z', end: '2026-03-12T00:00:00Z' }, explanationURL: 'https://ca.test/why' });

const parsed: { name: string; body: string; retryAfter?: string; expect: Partial<RenewalInfo> | RegExp }[] = [
  { name: 'reads a window, its explanation and Retry-After in seconds', body: answer, retryAfter: '21600', expect: { explanationUrl: 'https://ca.test/why', retryAfterSeconds: 21600 } },
  { name: 'reads Retry-After given as an HTTP date', body: answer, retryAfter: 'Sun, 01 Mar 2026 02:00:00 GMT', expect: { retryAfterSeconds: 7200 } },
  { name: 'reads a window without explanation or Retry-After', body: JSON.stringify({ suggestedWindow: { start: '2026-03-10T00:00:00Z', end: '2026-03-12T00:00:00Z' } }), expect: { explanationUrl: null, retryAfterSeconds: null } },
  { name: 'ignores an explanation that is not an http(s) URL', body: JSON.stringify({ suggestedWindow: { start: '2026-03-10T00:00:00Z', end: '2026-03-12T00:00:00Z' }, explanationURL: 'javascript:alert(1)' }), expect: { explanationUrl: null } },
  { name: 'refuses a window that ends before it starts', body: JSON.stringify({ suggestedWindow: { start: '2026-03-12T00:00:00Z', end: '2026-03-10T00:00:00Z' } }), expect: /ends \(2026-03-10T00:00:00.000Z\) before it starts/ },
  { name: 'refuses an answer without a window', body: '{}', expect: /no readable suggestedWindow/ },
  { name: 'refuses a window with dates that are not dates', body: JSON.stringify({ suggestedWindow: { start: 'soon', end: 'later' } }), expect: /no readable suggestedWindow/ },
  { name: 'refuses an answer that is not JSON', body: '<html>', expect: /not JSON/ },
];

for (const { name, body, retryAfter, expect } of parsed) {
  test(`renewalInfo: ${name}`, () => {
    const parse = () => parseRenewalInfo(body, retryAfter, now);

    if (expect instanceof RegExp) assert.throws(parse, expect);
    else {
      const info = parse();
      for (const [field, value] of Object.entries(expect)) assert.deepEqual(info[field as keyof RenewalInfo], value);
    }
  });
}

const info: RenewalInfo = { window: { start: new Date('2026-03-10T00:00:00Z'), end: new Date('2026-03-12T00:00:00Z') }, explanationUrl: null, retryAfterSeconds: 21600 };

test('chooses the point in the window from the random number, and asks again after Retry-After', () => {
  const stored = storedRenewalInfo(RFC_ID, info, null, now, 0.25);

  assert.equal(stored.selectedAt, '2026-03-10T12:00:00.000Z');
  assert.equal(stored.nextFetchAt, '2026-03-01T06:00:00.000Z');
});

test('keeps the point chosen while the window stays the same, and chooses again in a new window', () => {
  const first = storedRenewalInfo(RFC_ID, info, null, now, 0.25);

  const same = storedRenewalInfo(RFC_ID, info, first, new Date(now.getTime() + 86_400_000), 0.9);
  const moved = storedRenewalInfo(RFC_ID, { ...info, window: { start: new Date('2026-03-01T00:00:00Z'), end: new Date('2026-03-02T00:00:00Z') } }, first, now, 0.5);

  assert.equal(same.selectedAt, first.selectedAt);
  assert.equal(moved.selectedAt, '2026-03-01T12:00:00.000Z');
});

const clamps: { name: string; retryAfterSeconds: number | null; nextFetchAt: string }[] = [
  { name: 'a Retry-After under a minute as a minute', retryAfterSeconds: 1, nextFetchAt: '2026-03-01T00:01:00.000Z' },
  { name: 'a Retry-After over a day as a day', retryAfterSeconds: 30 * 86_400, nextFetchAt: '2026-03-02T00:00:00.000Z' },
  { name: 'no Retry-After as six hours', retryAfterSeconds: null, nextFetchAt: '2026-03-01T06:00:00.000Z' },
];

for (const { name, retryAfterSeconds, nextFetchAt } of clamps) {
  test(`takes ${name} (RFC 9773 §4.3)`, () => {
    const stored = storedRenewalInfo(RFC_ID, { ...info, retryAfterSeconds }, null, now, 0);

    assert.equal(stored.nextFetchAt, nextFetchAt);
  });
}

test('uses a stored window until its Retry-After has passed, and only for the same certificate', () => {
  const stored = storedRenewalInfo(RFC_ID, info, null, now, 0);

  assert.equal(renewalInfoFresh(stored, RFC_ID, new Date('2026-03-01T05:59:59Z')), true);
  assert.equal(renewalInfoFresh(stored, RFC_ID, new Date('2026-03-01T06:00:00Z')), false);
  assert.equal(renewalInfoFresh(stored, 'other.id', now), false);
  assert.equal(renewalInfoFresh(null, RFC_ID, now), false);
});

test('stores a new window, or a Retry-After reaching past the next run; nothing else', () => {
  const first = storedRenewalInfo(RFC_ID, info, null, now, 0.5);
  const again = storedRenewalInfo(RFC_ID, info, first, new Date(now.getTime() + 86_400_000), 0.1);
  const longWait = storedRenewalInfo(RFC_ID, { ...info, retryAfterSeconds: 86_400 }, first, new Date(now.getTime() + 3_600_000), 0.1);
  const nextRun = new Date(now.getTime() + 12 * 3_600_000);

  assert.equal(renewalInfoWorthStoring(first, null, nextRun), true);
  assert.equal(renewalInfoWorthStoring(again, first, new Date(now.getTime() + 2 * 86_400_000)), false);
  assert.equal(renewalInfoWorthStoring(longWait, first, nextRun), true);
});
