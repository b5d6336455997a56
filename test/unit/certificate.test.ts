import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describeCertificate, keySha256, parseCertificate, parsePrivateKey, sha256, splitCertificates } from '../../functions/core/certificate.js';
import { VerificationError } from '../../functions/core/errors.js';
import { chainPem, issue, newKey } from '../helpers/pki.js';

const caKey = newKey();
const leafKey = newKey();
const ca = issue({ commonName: 'Test CA', ca: true, key: caKey, notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') });
const leaf = issue({ commonName: 'a.test', names: ['www.a.test', 'a.test'], ca: false, key: leafKey, issuer: ca, notBefore: new Date('2026-01-15T03:05:00Z'), notAfter: new Date('2026-04-15T03:05:00Z') });

test('describes the names, validity, issuer and key of a certificate', () => {
  const certificate = parseCertificate(leaf.pem);

  const facts = describeCertificate(certificate);

  assert.deepEqual(facts.names, ['a.test', 'www.a.test']);
  assert.deepEqual([facts.notBefore, facts.notAfter], [new Date('2026-01-15T03:05:00Z'), new Date('2026-04-15T03:05:00Z')]);
  assert.equal(facts.issuer, 'CN=Test CA');
  assert.equal(facts.subject, 'CN=a.test');
  assert.equal(facts.serial, leaf.certificate.serialNumber.toLowerCase());
  assert.equal(facts.publicKeySha256, keySha256(leafKey.object));
});

test('gives a private key and its public key the same key digest', () => {
  const fromPrivate = keySha256(leafKey.object);

  const fromPublic = keySha256(createPublicKey(leafKey.object));

  assert.equal(fromPrivate, fromPublic);
  assert.notEqual(fromPrivate, keySha256(caKey.object));
});

const splits: { name: string; text: string; count: number }[] = [
  { name: 'splits a chain into its certificates', text: chainPem(leaf, ca), count: 2 },
  { name: 'splits a chain with text between blocks', text: `subject=a.test\n${leaf.pem}\nissuer=Test CA\n${ca.pem}`, count: 2 },
  { name: 'finds no certificate in a private key', text: leafKey.pem, count: 0 },
  { name: 'finds no certificate in empty text', text: '', count: 0 },
];

for (const { name, text, count } of splits) {
  test(name, () => {
    const pems = splitCertificates(text);

    assert.equal(pems.length, count);
  });
}

test('refuses a certificate that does not parse, naming what it is', () => {
  const parse = () => parseCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'chain certificate 2');

  assert.throws(parse, (error: unknown) => error instanceof VerificationError && error.reason === 'chain certificate 2 is not a readable X.509 certificate');
});

test('refuses a private key that does not parse without echoing it', () => {
  const broken = leafKey.pem.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');

  const parse = () => parsePrivateKey(broken);

  assert.throws(parse, (error: unknown) => error instanceof VerificationError && error.message === 'domain key is not a readable private key');
});

test('digests text as hex SHA-256', () => {
  const digest = sha256('abc');

  assert.equal(digest, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});
