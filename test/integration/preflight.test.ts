/**
 * The preflight adapter against the replica's DNS (pebble-challtestsrv) and nginx: it reaches names
 * the way the CA will, IPv6 first with a fallback to IPv4 on connection failure, within a deadline.
 */

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { HttpPreflight } from '../../functions/adapters/http-preflight.js';
import { challengePath } from '../../functions/core/layout.js';
import { clearDnsA, setDnsA } from '../../scripts/replica/dns.js';
import { putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';

const state = replicaState();
const preflight = new HttpPreflight({ dnsServer: state.dns.server, port: state.nginx.httpPort, timeoutMs: 3000 });

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function dnsManagement(path: string, body: object): Promise<void> {
  const response = await fetch(`${state.dns.managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  assert.ok(response.ok, `${path}: ${response.status}`);
}

async function publishProbe(): Promise<{ token: string; body: string }> {
  const token = uniqueLabel('probe');
  const body = `probe ${token}`;
  const key = `.well-known/acme-challenge/${token}`;
  await putText(s3Client(state), state.buckets.challenges, key, body);
  cleanups.push(async () => {
    await s3Client(state).send(new DeleteObjectCommand({ Bucket: state.buckets.challenges, Key: key }));
  });
  return { token, body };
}


test('fetches the probe through nginx for a name with only an A record', async () => {
  const { token, body } = await publishProbe();

  const response = await preflight.fetch(`${uniqueLabel('plain')}.test`, challengePath(token));

  assert.deepEqual(response, { status: 200, body });
});

test('falls back to IPv4 when the IPv6 address refuses connections, as the CA does', async () => {
  const name = `${uniqueLabel('dualstack')}.test`;
  await dnsManagement('/add-aaaa', { host: `${name}.`, addresses: ['::1'] });
  cleanups.push(() => dnsManagement('/clear-aaaa', { host: `${name}.` }));
  const { token, body } = await publishProbe();

  const response = await preflight.fetch(name, challengePath(token));

  assert.deepEqual(response, { status: 200, body });
});

test('tries IPv6 first: a wrong answer over IPv6 is the answer, with no fallback to IPv4', async () => {
  const name = `${uniqueLabel('brokenv6')}.test`;
  const server = createServer((_request, response) => response.writeHead(404).end('old host'));
  await new Promise<void>((resolve) => server.listen(state.nginx.httpPort, '::1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  await dnsManagement('/add-aaaa', { host: `${name}.`, addresses: ['::1'] });
  cleanups.push(() => dnsManagement('/clear-aaaa', { host: `${name}.` }));
  const { token } = await publishProbe();

  const response = await preflight.fetch(name, challengePath(token));

  assert.deepEqual(response, { status: 404, body: 'old host' });
});

test('fails, naming each address, when no address accepts connections', async () => {
  const name = `${uniqueLabel('dark')}.test`;
  await setDnsA(state, name, '127.0.0.9');
  cleanups.push(() => clearDnsA(state, name));

  await assert.rejects(preflight.fetch(name, challengePath('abc')), /no address of dark-[0-9a-f]+\.test accepts connections \(127\.0\.0\.9: ECONNREFUSED; 3 tries\)/);
});

test('gives up at the deadline on a server that never finishes its answer', async () => {
  const server = createServer((_request, response) => {
    response.writeHead(200);
    response.write('dripping');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  const slow = new HttpPreflight({ dnsServer: state.dns.server, port: (server.address() as AddressInfo).port, timeoutMs: 500 });
  const started = Date.now();

  await assert.rejects(slow.fetch(`${uniqueLabel('slow')}.test`, challengePath('abc')), /no answer within 500 ms|aborted/i);
  server.closeAllConnections();
  assert.ok(Date.now() - started < 2000, 'the deadline bounds the whole fetch');
});
