// Runs against the local replica: npm run replica:start first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startLogFile } from '../../scripts/replica/lifecycle.js';
import { elapsedPattern } from '../../scripts/replica/progress.js';
import { challengePrefix, replicaS3Client } from '../../scripts/replica/provision.js';
import { readReplicaState } from '../../scripts/replica/state.js';

const state = readReplicaState();
const token = randomBytes(24).toString('base64url');
const keyAuthorization = `${token}.thumbprint-${randomBytes(8).toString('hex')}`;
const secret = `secret-${randomBytes(8).toString('hex')}`;
// The buckets are shared with other test files running in parallel: unique keys, removed afterwards.
const objects = [
  { Bucket: state.buckets.challenges, Key: `${challengePrefix}${token}`, Body: keyAuthorization },
  { Bucket: state.buckets.challenges, Key: `replica-test-${token}.txt`, Body: secret },
  { Bucket: state.buckets.certificates, Key: `replica-test-${token}.test/domain.key`, Body: secret },
] as const;
const [challengeObject, privateChallengeBucketObject, certificatesObject] = objects;
let s3: S3Client;

/** Sends one raw HTTP request (path not normalised by the client) and returns status and body. */
function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; body: string; location?: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), location: res.headers.location }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}

const viaNginx = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
  send(state.nginx.httpPort, method, path, { Host: 'a.test', ...headers }, body);

const motoPort = Number(new URL(state.awsEndpoint).port);

before(async () => {
  s3 = replicaS3Client(state);
  for (const object of objects) await s3.send(new PutObjectCommand(object));
});

after(async () => {
  for (const { Bucket, Key } of objects) await s3.send(new DeleteObjectCommand({ Bucket, Key }));
  s3.destroy();
});

test('serves a challenge object through nginx port 80 for any host name', async () => {
  const response = await viaNginx('GET', `/.well-known/acme-challenge/${token}`);

  assert.equal(response.status, 200);
  assert.equal(response.body, keyAuthorization);
});

const refused: { name: string; method: string; path: () => string; headers?: Record<string, string>; body?: string; status: number }[] = [
  { name: 'the ?acl sub-resource of a challenge', method: 'GET', path: () => `/.well-known/acme-challenge/${token}?acl`, status: 404 },
  { name: 'the ?acl sub-resource of the bucket', method: 'GET', path: () => '/?acl', status: 301 },
  { name: 'a presigned-looking query', method: 'GET', path: () => `/.well-known/acme-challenge/${token}?Signature=x`, status: 404 },
  { name: 'a POST', method: 'POST', path: () => `/.well-known/acme-challenge/${token}`, body: 'x', status: 405 },
  { name: 'an authorised-looking PUT', method: 'PUT', path: () => '/.well-known/acme-challenge/planted', headers: { Authorization: 'AWS4-HMAC-SHA256 Credential=test' }, body: 'planted', status: 405 },
  { name: 'a DELETE', method: 'DELETE', path: () => `/.well-known/acme-challenge/${token}`, status: 405 },
  { name: 'a HEAD', method: 'HEAD', path: () => `/.well-known/acme-challenge/${token}`, status: 405 },
  { name: 'a token with ..', method: 'GET', path: () => '/.well-known/acme-challenge/..', status: 301 },
  { name: 'a token with dots inside', method: 'GET', path: () => '/.well-known/acme-challenge/a..b', status: 404 },
  { name: 'a token with an encoded slash', method: 'GET', path: () => `/.well-known/acme-challenge/..%2F..%2F${privateChallengeBucketObject.Key}`, status: 301 },
  { name: 'a token with an encoded slash inside', method: 'GET', path: () => '/.well-known/acme-challenge/a%2Fb', status: 404 },
  { name: 'a token of 257 characters', method: 'GET', path: () => `/.well-known/acme-challenge/${'a'.repeat(257)}`, status: 404 },
  { name: 'an empty token', method: 'GET', path: () => '/.well-known/acme-challenge/', status: 404 },
  { name: 'a path outside the challenge prefix', method: 'GET', path: () => `/${privateChallengeBucketObject.Key}`, status: 301 },
  { name: 'a bucket path outside the prefix', method: 'GET', path: () => `/${state.buckets.challenges}/${privateChallengeBucketObject.Key}`, status: 301 },
  { name: 'a missing token', method: 'GET', path: () => '/.well-known/acme-challenge/no-such-token', status: 404 },
];

for (const { name, method, path, headers, body, status } of refused) {
  test(`nginx port 80 refuses ${name} with ${status}`, async () => {
    const response = await viaNginx(method, path(), headers, body);

    assert.equal(response.status, status, `${method} ${path()}: ${response.body}`);
    assert.ok(!response.body.includes(keyAuthorization) && !response.body.includes(secret) && !response.body.includes('<?xml'), response.body);
  });
}

test('nginx port 80 redirects other paths to the same URL over HTTPS', async () => {
  const response = await viaNginx('GET', '/some/page?x=1');

  assert.equal(response.status, 301);
  assert.equal(response.location, 'https://a.test/some/page?x=1');
});

test('a PUT through nginx does not create or change a challenge object', async () => {
  await viaNginx('PUT', `/.well-known/acme-challenge/${token}`, { Authorization: 'AWS test:test' }, 'overwritten');

  const response = await viaNginx('GET', `/.well-known/acme-challenge/${token}`);
  assert.equal(response.body, keyAuthorization);
  assert.equal((await viaNginx('GET', '/.well-known/acme-challenge/planted')).status, 404);
});

test('the challenge bucket serves the challenge prefix anonymously and nothing else', async () => {
  const challenge = await send(motoPort, 'GET', `/${challengeObject.Bucket}/${challengeObject.Key}`);
  const outside = await send(motoPort, 'GET', `/${privateChallengeBucketObject.Bucket}/${privateChallengeBucketObject.Key}`);

  assert.equal(challenge.status, 200);
  assert.equal(outside.status, 403);
  assert.ok(!outside.body.includes(secret));
});

test('the certificates bucket refuses an anonymous GET', async () => {
  const response = await send(motoPort, 'GET', `/${certificatesObject.Bucket}/${certificatesObject.Key}`);

  assert.equal(response.status, 403);
  assert.ok(!response.body.includes(secret));
});

test('the start said each phase with its elapsed time, and was never silent for more than 10 s', () => {
  // The lines of `replica.ts start` (npm test also shows them and keeps them in .replica-logs/replica.log).
  const lines = readFileSync(startLogFile(state.dir), 'utf8').trimEnd().split('\n');

  for (const phase of ['moto started', 'DNS (pebble-challtestsrv) started', 'Pebble started', 'stack acme-certificates-local deployed', 'nginx started', 'ready']) {
    assert.ok(lines.some((line) => line.startsWith(`replica: ${phase}`)), `no "${phase}" line in:\n${lines.join('\n')}`);
  }
  const seconds = lines.map((line) => Number(elapsedPattern.exec(line)?.[1] ?? Number.NaN));
  assert.ok(seconds.every(Number.isFinite), `a line without its elapsed time in:\n${lines.join('\n')}`);
  const gaps = seconds.map((second, index) => second - (seconds[index - 1] ?? 0));
  assert.ok(Math.max(...gaps) <= 10, `a gap of ${Math.max(...gaps).toFixed(1)} s in:\n${lines.join('\n')}`);
});
