/**
 * The transport of the requests to the CA (adapters/acme-transport.ts), against a real HTTP server
 * on the loopback: what the renew tests against Pebble cannot make it meet (a redirect, a body
 * over the limit, an answer that never comes, credentials in a URL). Pebble's answers, error
 * statuses and the fault proxy's resets are met by the integration tests (renew, faults).
 */

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createAcmeTransport, installAcmeTransport, MAX_BODY_BYTES } from '../../functions/adapters/acme-transport.js';

const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
const routes: Record<string, (response: ServerResponse) => void> = {
  '/dir': (response) => response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"newNonce":"x"}'),
  '/problem': (response) => response.writeHead(400, { 'Content-Type': 'application/problem+json', 'Replay-Nonce': 'n1' }).end('{"type":"urn:ietf:params:acme:error:badNonce","detail":"no"}'),
  '/chain': (response) => response.writeHead(200, { 'Content-Type': 'application/pem-certificate-chain', Link: ['<https://ca/alt/1>;rel="alternate"', '<https://ca/alt/2>;rel="alternate"'] }).end('-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n'),
  '/moved': (response) => response.writeHead(301, { Location: '/dir' }).end(),
  '/loop': (response) => response.writeHead(302, { Location: '/loop' }).end(),
  '/huge': (response) => response.writeHead(200, { 'Content-Type': 'application/json' }).end(Buffer.alloc(MAX_BODY_BYTES + 1, 32)),
  '/untyped': (response) => response.writeHead(200).end('{"status":"valid"}'),
  '/proxied-problem': (response) => response.writeHead(503, { 'Content-Type': 'text/plain' }).end('{"type":"urn:ietf:params:acme:error:rateLimited","detail":"slow down"}'),
  '/bad-redirect': (response) => response.writeHead(302, { Location: 'http://[::1' }).end(),
  '/hang': () => undefined,
};
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', () => {
    seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
    (routes[new URL(request.url ?? '/', 'http://x').pathname] ?? ((r: ServerResponse) => r.writeHead(404).end()))(response);
  });
});
let base = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const send = createAcmeTransport({ timeoutMs: 1000, userAgent: 'test-agent' });

test('a signed POST is sent as JWS JSON, naming the client, and its JSON answer is parsed', async () => {
  const response = await send(`${base}/dir`, 'post', { data: { protected: 'p', payload: '', signature: 's' } });
  const request = seen.at(-1);
  assert.deepEqual(response.data, { newNonce: 'x' });
  assert.equal(response.status, 200);
  assert.equal(request?.method, 'POST');
  assert.equal(request?.headers['content-type'], 'application/jose+json');
  assert.equal(request?.headers['user-agent'], 'test-agent');
  assert.deepEqual(JSON.parse(request?.body ?? ''), { protected: 'p', payload: '', signature: 's' });
});

test('an error answer resolves with its status, its problem document and its nonce', async () => {
  const response = await send(`${base}/problem`, 'post', { data: {} });
  assert.equal(response.status, 400);
  assert.deepEqual(response.data, { type: 'urn:ietf:params:acme:error:badNonce', detail: 'no' });
  assert.equal(response.headers['replay-nonce'], 'n1');
});

test('a certificate chain stays text, and repeated Link headers arrive as one line', async () => {
  const response = await send(`${base}/chain`, 'post', { data: {} });
  assert.match(String(response.data), /^-----BEGIN CERTIFICATE-----\n/);
  assert.equal(response.headers.link, '<https://ca/alt/1>;rel="alternate", <https://ca/alt/2>;rel="alternate"');
});

test('an untyped answer that reads as JSON is parsed, as axios did', async () => {
  assert.deepEqual((await send(`${base}/untyped`, 'get')).data, { status: 'valid' });
});

test('a problem document typed as text (a proxy in between) is still parsed: its type decides the retries', async () => {
  const response = await send(`${base}/proxied-problem`, 'post', { data: {} });
  assert.deepEqual(response.data, { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'slow down' });
});

test('a HEAD answers with its headers and an empty body', async () => {
  const response = await send(`${base}/dir`, 'head');
  assert.equal(response.status, 200);
  assert.equal(response.data, '');
});

test('a GET follows a redirect; a signed POST never does', async () => {
  assert.deepEqual((await send(`${base}/moved`, 'get')).data, { newNonce: 'x' });
  assert.equal((await send(`${base}/moved`, 'post', { data: {} })).status, 301);
});

test('redirects end after three: the last answer is returned as it is', async () => {
  const before = seen.length;
  assert.equal((await send(`${base}/loop`, 'get')).status, 302);
  assert.equal(seen.length - before, 4);
});

test('a redirect to an unreadable location fails naming the request and the location', async () => {
  await assert.rejects(send(`${base}/bad-redirect`, 'get'), (error: Error & { code?: string }) => {
    assert.equal(error.message, `request to the CA failed: GET ${base}/bad-redirect: redirected to an unreadable location "http://[::1" (ERR_INVALID_URL)`);
    assert.equal(error.code, 'ERR_INVALID_URL');
    return true;
  });
});

test('a body over the limit is refused, naming the limit and the request', async () => {
  await assert.rejects(send(`${base}/huge`, 'get'), (error: Error & { code?: string }) => {
    assert.match(error.message, new RegExp(`^request to the CA failed: GET ${base}/huge: the answer is larger than ${MAX_BODY_BYTES} bytes`));
    assert.equal(error.code, 'ERR_BODY_TOO_LARGE');
    return true;
  });
});

test('an answer that never comes fails after the timeout with ETIMEDOUT, which the retries judge transient', async () => {
  const started = Date.now();
  await assert.rejects(send(`${base}/hang`, 'head'), (error: Error & { code?: string }) => {
    assert.equal(error.message, `request to the CA failed: HEAD ${base}/hang: no answer within 1000 ms (ETIMEDOUT)`);
    assert.equal(error.code, 'ETIMEDOUT');
    return true;
  });
  assert.ok(Date.now() - started < 3000);
});

test('a refused connection keeps its code, and the error names no credentials or query', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(send(`http://user:secret@127.0.0.1:${port}/dir?token=abc`, 'get'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'ECONNREFUSED');
    assert.match(error.message, new RegExp(`^request to the CA failed: GET http://127\\.0\\.0\\.1:${port}/dir: `));
    assert.doesNotMatch(error.message, /secret|token/);
    return true;
  });
});

test('installing replaces the HttpClient request of an acme-client Client, and refuses an object without one', () => {
  const client = { http: { request: () => Promise.reject(new Error('axios')) } };
  installAcmeTransport(client, send);
  assert.equal(client.http.request, send);
  assert.throws(() => installAcmeTransport({}, send), /acme-client has no HttpClient\.request/);
});
