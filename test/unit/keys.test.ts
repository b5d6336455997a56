import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import acme from 'acme-client';
import { KEY_TYPES, type KeyType } from '../../functions/core/domain-config.js';
import { createCsr, createDomainKey, generateDomainKey, keyTypeOf } from '../../functions/core/keys.js';
import { opensslPublicKey, opensslReadCsr } from '../helpers/openssl.js';

for (const keyType of KEY_TYPES) {
  test(`creates a PKCS#8 ${keyType} domain key off the event loop that reads back as ${keyType}`, async () => {
    const pem = await createDomainKey(keyType);

    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(keyTypeOf(createPrivateKey(pem)), keyType);
  });

  test(`generates a PKCS#8 ${keyType} domain key that reads back as ${keyType}`, () => {
    const pem = generateDomainKey(keyType);

    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(keyTypeOf(createPrivateKey(pem)), keyType);
  });
}

const otherKeys: { name: string; key: () => KeyObject }[] = [
  { name: 'an ECDSA P-384 key', key: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey },
  { name: 'an RSA 1024 key', key: () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey },
  { name: 'an Ed25519 key', key: () => generateKeyPairSync('ed25519').privateKey },
];

for (const { name, key } of otherKeys) {
  test(`does not recognise ${name} as a type this tool issues with`, () => {
    const object = key();

    const keyType = keyTypeOf(object);

    assert.equal(keyType, null);
  });
}

const longName = `${'a'.repeat(63)}.test`;

// Each CSR is read back by openssl, a second implementation: its signature verifies, and it asks
// for exactly the names, for exactly the key.
const requests: { name: string; keyType: KeyType; domain: string; names: string[]; subject: string; signatureAlgorithm: string }[] = [
  { name: 'an ECDSA P-256 key', keyType: 'ecdsa-p256', domain: 'a.test', names: ['a.test', 'www.a.test'], subject: 'CN=a.test', signatureAlgorithm: 'ecdsa-with-SHA256' },
  { name: 'an RSA-2048 key', keyType: 'rsa-2048', domain: 'a.test', names: ['a.test', 'www.a.test'], subject: 'CN=a.test', signatureAlgorithm: 'sha256WithRSAEncryption' },
  { name: 'an RSA-4096 key', keyType: 'rsa-4096', domain: 'a.test', names: ['a.test'], subject: 'CN=a.test', signatureAlgorithm: 'sha256WithRSAEncryption' },
  { name: 'the domain as common name though another name sorts first', keyType: 'ecdsa-p256', domain: 'example.test', names: ['api.example.test', 'example.test', 'www.example.test'], subject: 'CN=example.test', signatureAlgorithm: 'ecdsa-with-SHA256' },
  { name: 'no common name for a domain longer than 64 characters', keyType: 'ecdsa-p256', domain: longName, names: [longName, `www.${longName}`], subject: '', signatureAlgorithm: 'ecdsa-with-SHA256' },
  { name: 'a hundred names', keyType: 'ecdsa-p256', domain: 'many.test', names: Array.from({ length: 100 }, (_, index) => `n${index}.many.test`), subject: 'CN=many.test', signatureAlgorithm: 'ecdsa-with-SHA256' },
];

for (const { name, keyType, domain, names, subject, signatureAlgorithm } of requests) {
  test(`creates a CSR that openssl verifies, for ${name}`, async () => {
    const keyPem = generateDomainKey(keyType);

    const csr = await createCsr(domain, names, keyPem);

    assert.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+-----END CERTIFICATE REQUEST-----\n$/);
    const read = opensslReadCsr(csr);
    assert.equal(read.subject, subject);
    assert.deepEqual(read.names, names);
    assert.equal(read.publicKey, opensslPublicKey(keyPem, 'private key'));
    assert.equal(read.signatureAlgorithm, signatureAlgorithm);
  });
}

test('creates a CSR that acme-client reads as the same request', async () => {
  const keyPem = generateDomainKey('ecdsa-p256');

  const csr = await createCsr('example.test', ['api.example.test', 'example.test'], keyPem);

  const requested = acme.crypto.readCsrDomains(csr);
  assert.equal(requested.commonName, 'example.test');
  assert.deepEqual([...requested.altNames].sort(), ['api.example.test', 'example.test']);
});
