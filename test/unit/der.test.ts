import { test } from 'node:test';
import assert from 'node:assert/strict';
import { der, oid, pem, pemBody, time } from '../../functions/core/der.js';

const lengths: { name: string; content: number; header: string }[] = [
  { name: 'a short length in one byte', content: 5, header: '0405' },
  { name: '127 bytes, the longest short form', content: 127, header: '047f' },
  { name: '128 bytes in the long form, one length byte', content: 128, header: '048180' },
  { name: '256 bytes, two length bytes', content: 256, header: '04820100' },
];

for (const { name, content, header } of lengths) {
  test(`encodes ${name}`, () => {
    const encoded = der(0x04, Buffer.alloc(content));

    assert.equal(encoded.subarray(0, header.length / 2).toString('hex'), header);
    assert.equal(encoded.length, header.length / 2 + content);
  });
}

const identifiers: { dotted: string; hex: string }[] = [
  { dotted: '2.5.29.17', hex: '0603551d11' },
  { dotted: '1.2.840.10045.4.3.2', hex: '06082a8648ce3d040302' },
  { dotted: '1.2.840.113549.1.9.14', hex: '06092a864886f70d01090e' },
];

for (const { dotted, hex } of identifiers) {
  test(`encodes the object identifier ${dotted}`, () => {
    assert.equal(oid(dotted).toString('hex'), hex);
  });
}

test('writes UTCTime through 2049 and GeneralizedTime from 2050', () => {
  assert.equal(time(new Date('2049-12-31T23:59:59Z')).toString('latin1').slice(2), '491231235959Z');
  assert.equal(time(new Date('2050-01-01T00:00:00Z')).toString('latin1').slice(2), '20500101000000Z');
});

test('reads back the bytes of the PEM it writes, and of the first block only', () => {
  const body = Buffer.from('a certificate request, in DER');

  const text = `${pem('CERTIFICATE REQUEST', body)}${pem('CERTIFICATE', Buffer.from('other'))}`;

  assert.deepEqual(pemBody(text), body);
});

const notPem = ['', 'MIIB', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n'];

for (const text of notPem) {
  test(`refuses text that is not PEM: ${JSON.stringify(text)}`, () => {
    assert.throws(() => pemBody(text), /not PEM/);
  });
}
