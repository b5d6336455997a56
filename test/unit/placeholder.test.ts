/**
 * The self-signed placeholder (core/placeholder.ts), whose X.509 is written in DER by hand: read
 * back by node's X.509 parser (OpenSSL), the same as the one nginx loads.
 */

import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { createPlaceholder, createPlaceholderKey, isPlaceholder } from '../../functions/core/placeholder.js';

const key = createPlaceholderKey();
const now = new Date('2026-05-01T12:00:00Z');

test('a placeholder is a self-signed leaf for the domain and www., signed by its key, marked as a placeholder', () => {
  const pair = createPlaceholder('a.test', now, key);
  const certificate = new X509Certificate(pair.certificatePem);

  assert.equal(certificate.subject, 'CN=a.test\nO=acme-sync placeholder');
  assert.equal(certificate.issuer, certificate.subject);
  assert.equal(certificate.subjectAltName, 'DNS:a.test, DNS:www.a.test');
  assert.equal(certificate.ca, false);
  assert.deepEqual(certificate.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'for TLS servers (node shows the extended key usage)');
  assert.ok(certificate.verify(certificate.publicKey), 'the signature verifies with its own key');
  assert.ok(certificate.checkPrivateKey(createPrivateKey(pair.keyPem)), 'the key is the certificate\'s');
  assert.ok(isPlaceholder(pair.certificatePem));
});

test('is valid from a minute before now for ten years, in UTCTime, and in GeneralizedTime from 2050 on', () => {
  const soon = new X509Certificate(createPlaceholder('a.test', now, key).certificatePem);
  const late = new X509Certificate(createPlaceholder('a.test', new Date('2045-01-01T00:00:00Z'), key).certificatePem);

  assert.equal(new Date(soon.validFrom).toISOString(), '2026-05-01T11:59:00.000Z');
  assert.equal(new Date(soon.validTo).toISOString(), '2036-04-28T12:00:00.000Z');
  assert.equal(new Date(late.validTo).toISOString(), '2054-12-30T00:00:00.000Z');
});

test('names a domain too long for a common name (64 characters) in its alternative names only', () => {
  const domain = `${'a'.repeat(60)}.example.test`;

  const certificate = new X509Certificate(createPlaceholder(domain, now, key).certificatePem);

  assert.equal(certificate.subject, 'CN=placeholder\nO=acme-sync placeholder');
  assert.equal(certificate.subjectAltName, `DNS:${domain}, DNS:www.${domain}`);
});

test('gives every placeholder its own positive serial', () => {
  const serials = Array.from({ length: 5 }, () => new X509Certificate(createPlaceholder('a.test', now, key).certificatePem).serialNumber);

  assert.equal(new Set(serials).size, 5);
  for (const serial of serials) assert.match(serial, /^01[0-9A-F]{30}$/);
});

test('a real certificate is no placeholder', () => {
  assert.equal(isPlaceholder('not a certificate'), false);
});
