/**
 * The preflight adapter against the replica's DNS (pebble-challtestsrv) and nginx: it reaches names
 * the way the CA will, IPv6 first with a fallback to IPv4 on connection failure, within a deadline.
 */

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
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

  await assert.rejects(preflight.fetch(name, challengePath('abc')), new RegExp(`no address of dark-[0-9a-f]+\\.test accepts connections \\(127\\.0\\.0\\.9 port ${state.nginx.httpPort}: connection refused; 3 tries\\)`));
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

test('a name whose DNS server answers SERVFAIL is reported as SERVFAIL, not as a name without records', async () => {
  const name = `${uniqueLabel('servfail')}.test`;
  await dnsManagement('/set-servfail', { host: `${name}.` });
  cleanups.push(() => dnsManagement('/clear-servfail', { host: `${name}.` }));

  await assert.rejects(preflight.fetch(name, challengePath('abc')), new RegExp(`^Error: the DNS server failed to answer for ${name.replace(/\./g, '\\.')} \\(SERVFAIL looking up A{1,4}\\)$`));
});

test('a DNS server that does not answer is reported as a timeout, naming the server', async () => {
  const silent = await udpServer(() => null);
  const lookup = new HttpPreflight({ dnsServer: silent.address, port: state.nginx.httpPort, timeoutMs: 8000 });

  await assert.rejects(lookup.fetch('quiet.test', challengePath('abc')), new RegExp(`no answer from the DNS server \\(${silent.address.replace(/\./g, '\\.')}\\) looking up A{1,4} for quiet\\.test \\(timed out\\)`));
});

test('a DNS server nobody listens for is reported as unreachable, naming the server', async () => {
  const gone = await udpServer(() => null);
  await gone.close();
  const lookup = new HttpPreflight({ dnsServer: gone.address, port: state.nginx.httpPort, timeoutMs: 8000 });

  await assert.rejects(lookup.fetch('nobody.test', challengePath('abc')), new RegExp(`the DNS server \\(${gone.address.replace(/\./g, '\\.')}\\) cannot be reached looking up A{1,4} for nobody\\.test \\(connection refused\\)`));
});

// pebble-challtestsrv answers every name (its default address), so it cannot say NXDOMAIN: a DNS
// server of a few lines stands in for that one answer.
test('a name that does not exist is reported as NXDOMAIN', async () => {
  const nxdomain = await udpServer((query) => {
    const answer = Buffer.from(query);
    answer[2] = 0x81; // QR, RD
    answer[3] = 0x83; // RA, RCODE 3: NXDOMAIN
    return answer;
  });
  const lookup = new HttpPreflight({ dnsServer: nxdomain.address, port: state.nginx.httpPort, timeoutMs: 3000 });

  await assert.rejects(lookup.fetch('gone.test', challengePath('abc')), /^Error: gone\.test does not exist \(NXDOMAIN looking up A{1,4}\)$/);
});

/** A UDP server on a free loopback port that answers each query with `answer(query)` (null: silence). */
async function udpServer(answer: (query: Buffer) => Buffer | null): Promise<{ address: string; close: () => Promise<void> }> {
  const socket = createSocket('udp4');
  socket.on('message', (query, from) => {
    const reply = answer(query);
    if (reply) socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let open = true;
  const close = () => (open ? new Promise<void>((resolve) => ((open = false), socket.close(() => resolve()))) : Promise.resolve());
  cleanups.push(close);
  return { address: `127.0.0.1:${socket.address().port}`, close };
}
