import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import acme from 'acme-client';
import { KEY_TYPES } from '../../functions/core/domain-config.js';
import { createCsr, createDomainKey, csrMatches, generateDomainKey, keyTypeOf } from '../../functions/core/keys.js';
import { csrWithExtension, newKey } from '../helpers/pki.js';

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

const domainKeyPem = generateDomainKey('ecdsa-p256');
const domainKey = createPrivateKey(domainKeyPem);
const otherKey = createPrivateKey(generateDomainKey('ecdsa-p256'));
const names = ['a.test', 'www.a.test'];
const longName = `${'a'.repeat(63)}.test`;

const matches: { name: string; csrDomain?: string; csrNames: string[]; domain?: string; names: string[]; key: KeyObject; matches: boolean }[] = [
  { name: 'matches a CSR for the same names and key', csrNames: names, names, key: domainKey, matches: true },
  { name: 'matches a CSR for the same names in another order', csrNames: names, names: ['www.a.test', 'a.test'], key: domainKey, matches: true },
  { name: 'matches a CSR for a domain too long for a common name', csrDomain: longName, csrNames: [longName, 'a.test'], domain: longName, names: [longName, 'a.test'], key: domainKey, matches: true },
  { name: 'does not match a CSR for another key', csrNames: names, names, key: otherKey, matches: false },
  { name: 'does not match a CSR for fewer names', csrNames: names, names: [...names, 'api.a.test'], key: domainKey, matches: false },
  { name: 'does not match a CSR for more names', csrNames: names, names: ['a.test'], key: domainKey, matches: false },
  { name: 'does not match a CSR for other names', csrNames: names, names: ['a.test', 'api.a.test'], key: domainKey, matches: false },
  { name: 'does not match a CSR whose common name is another of the names', csrDomain: 'www.a.test', csrNames: names, names, key: domainKey, matches: false },
];

for (const { name, csrDomain = 'a.test', csrNames, domain = 'a.test', names: wanted, key, matches: expected } of matches) {
  test(name, async () => {
    const csr = await createCsr(csrDomain, csrNames, domainKeyPem);

    const result = await csrMatches(csr, domain, wanted, key);

    assert.equal(result, expected);
  });
}

test('makes the domain itself the common name, though another of the names sorts first', async () => {
  const csr = await createCsr('example.test', ['api.example.test', 'example.test'], domainKeyPem);

  const requested = acme.crypto.readCsrDomains(csr);

  assert.equal(requested.commonName, 'example.test');
  assert.deepEqual([...requested.altNames].sort(), ['api.example.test', 'example.test']);
});

test('creates a PEM certificate signing request', async () => {
  const csr = await createCsr('a.test', names, domainKeyPem);

  assert.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+-----END CERTIFICATE REQUEST-----\n?$/);
});

test('does not match text that is not a CSR', async () => {
  const garbage = '-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----\n';

  const result = await csrMatches(garbage, 'a.test', names, domainKey);

  assert.equal(result, false);
});

// A CSR planted in the bucket for an attacker's key must never be reused, even when it carries the
// domain key's bytes (a byte search would be fooled; the CSR's own public key is what counts).
test("does not match a CSR for another key that carries the domain key's bytes in an extension", async () => {
  const attackerKey = newKey();
  const planted = csrWithExtension(names, attackerKey, createPublicKey(domainKey).export({ type: 'spki', format: 'der' }));

  const result = await csrMatches(planted, 'a.test', names, domainKey);

  assert.equal(await csrMatches(planted, 'a.test', names, attackerKey.object), true, 'the planted CSR is for the attacker key');
  assert.equal(result, false);
});
