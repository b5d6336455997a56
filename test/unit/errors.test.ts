import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { DomainStepError, VerificationError, describeError, redactPem } from '../../functions/core/errors.js';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
/** The base64 body of the key: what must never reach a log. */
const secret = (pem: string) => pem.split('\n').slice(1, -2).join('');

const redactions: { name: string; text: string; redacted: string }[] = [
  { name: 'redacts a PKCS#8 private key', text: `bad key: ${pkcs8}`, redacted: 'bad key: [redacted PRIVATE KEY]\n' },
  { name: 'redacts an EC private key', text: `bad key: ${sec1}`, redacted: 'bad key: [redacted EC PRIVATE KEY]\n' },
  { name: 'redacts every block of several', text: `a ${pkcs8} b ${sec1} c`, redacted: 'a [redacted PRIVATE KEY]\n b [redacted EC PRIVATE KEY]\n c' },
  { name: 'redacts a key quoted in JSON with escaped newlines', text: `payload ${JSON.stringify(pkcs8)}`, redacted: 'payload "[redacted PRIVATE KEY]\\n"' },
  { name: 'redacts a truncated key to the end of the text', text: `bad key: ${pkcs8.slice(0, 60)}`, redacted: 'bad key: [redacted PRIVATE KEY]' },
  { name: 'redacts to the end when the END line names another type', text: `${pkcs8.replace('END PRIVATE KEY', 'END RSA PRIVATE KEY')} tail`, redacted: '[redacted PRIVATE KEY]' },
  { name: 'redacts a certificate too', text: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', redacted: '[redacted CERTIFICATE]' },
  { name: 'leaves text without PEM unchanged', text: 'a.test: order: rate limited', redacted: 'a.test: order: rate limited' },
];

for (const { name, text, redacted } of redactions) {
  test(name, () => {
    const result = redactPem(text);

    assert.equal(result, redacted);
  });
}

const thrown: { name: string; error: unknown }[] = [
  { name: 'an Error', error: new Error(`cannot parse ${pkcs8}`) },
  { name: 'a DomainStepError', error: new DomainStepError('a.test', 'store', `upload failed for ${pkcs8}`) },
  { name: 'a thrown string', error: `cannot parse ${sec1}` },
];

for (const { name, error } of thrown) {
  test(`never lets a private key in ${name} survive describeError`, () => {
    const description = describeError(error);

    assert.ok(!description.includes(secret(pkcs8)) && !description.includes(secret(sec1)), description);
    assert.match(description, /\[redacted (EC )?PRIVATE KEY\]/);
  });
}

test('names the domain and the step in a DomainStepError, and keeps the cause', () => {
  const cause = new Error('connect ECONNREFUSED');

  const error = new DomainStepError('a.test', 'preflight', 'challenge not reachable', { cause });

  assert.equal(error.message, 'a.test: preflight: challenge not reachable');
  assert.equal(error.name, 'DomainStepError');
  assert.equal(error.cause, cause);
  assert.deepEqual([error.domain, error.step, error.reason], ['a.test', 'preflight', 'challenge not reachable']);
});

test('gives a VerificationError its reason as message', () => {
  const error = new VerificationError('certificate public key does not match the domain key');

  assert.equal(error.message, error.reason);
  assert.equal(error.name, 'VerificationError');
});

test('the JSON logger redacts PEM blocks nested in objects, arrays and error messages', async () => {
  const { createJsonLogger } = await import('../../functions/adapters/json-logger.js');
  const lines: string[] = [];
  const key = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';

  createJsonLogger((line) => lines.push(line))('error', `failed with ${key}`, { nested: { key }, list: [key], error: { message: key } });

  assert.doesNotMatch(lines.join('\n'), /MIGHAgEAMBMG|BEGIN PRIVATE KEY/);
  assert.equal((lines[0]?.match(/\[redacted PRIVATE KEY\]/g) ?? []).length, 4);
});
