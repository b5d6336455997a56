import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { rootsFromPem, selectRootsByName } from '../../functions/core/trust.js';

const subjects = (pems: string[]) => pems.map((pem) => new X509Certificate(pem).subject.split('\n').at(-1));

const selections: { name: string; store: readonly string[]; names: string[]; subjects: string[] }[] = [
  { name: "finds ISRG Root X1 in node's root store", store: rootCertificates, names: ['ISRG Root X1'], subjects: ['CN=ISRG Root X1'] },
  { name: "finds both Let's Encrypt roots, in the order asked", store: rootCertificates, names: ['ISRG Root X2', 'ISRG Root X1'], subjects: ['CN=ISRG Root X2', 'CN=ISRG Root X1'] },
  { name: 'skips store entries that are not certificates', store: ['garbage', ...rootCertificates], names: ['ISRG Root X1'], subjects: ['CN=ISRG Root X1'] },
];

test('refuses an empty list of root names (it could verify nothing)', () => {
  assert.throws(() => selectRootsByName(rootCertificates, []), /no trusted root named/);
});

for (const { name, store, names, subjects: expected } of selections) {
  test(name, () => {
    const roots = selectRootsByName(store, names);

    assert.deepEqual(subjects(roots), expected);
  });
}

const missing: { name: string; names: string[]; message: RegExp }[] = [
  { name: 'refuses a root name that is not in the store', names: ['No Such Root'], message: /trusted root "No Such Root" is not in the root store/ },
  { name: 'refuses a name that differs only in case', names: ['isrg root x1'], message: /trusted root "isrg root x1" is not in the root store/ },
  { name: 'refuses a partial common name', names: ['ISRG Root'], message: /trusted root "ISRG Root" is not in the root store/ },
  { name: 'names the missing root among found ones', names: ['ISRG Root X1', 'Pebble Root'], message: /trusted root "Pebble Root"/ },
];

for (const { name, names, message } of missing) {
  test(name, () => {
    const select = () => selectRootsByName(rootCertificates, names);

    assert.throws(select, message);
  });
}

test('reads every certificate of a PEM bundle', () => {
  const bundle = `${rootCertificates[0]}\n${rootCertificates[1]}\n`;

  const roots = rootsFromPem(bundle);

  assert.deepEqual(roots, [rootCertificates[0]?.trim(), rootCertificates[1]?.trim()]);
});

test('refuses a PEM bundle without a certificate', () => {
  const read = () => rootsFromPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');

  assert.throws(read, /no certificate in the trusted roots PEM/);
});
