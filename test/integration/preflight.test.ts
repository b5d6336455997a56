/**
 * The preflight adapter against the replica's DNS (pebble-challtestsrv) and nginx: it reaches names
 * the way the CA will, IPv6 first with a fallback to IPv4 on connection failure, follows and refuses
 * redirects as the CA does, and says what it could not check over IPv6, within a deadline.
 */

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { HttpPreflight, RedirectRefusedError } from '../../functions/adapters/http-preflight.js';
import { challengePath } from '../../functions/core/layout.js';
import { createPlaceholder } from '../../functions/core/placeholder.js';
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

test('falls back to IPv4 when the IPv6 address refuses connections, as the CA does, and warns that the AAAA record serves nothing', async () => {
  // Nothing listens on [::1] at nginx's port (nginx listens on 127.0.0.1 only): the connection is refused.
  const name = `${uniqueLabel('dualstack')}.test`;
  await dnsManagement('/add-aaaa', { host: `${name}.`, addresses: ['::1'] });
  cleanups.push(() => dnsManagement('/clear-aaaa', { host: `${name}.` }));
  const { token, body } = await publishProbe();

  const response = await preflight.fetch(name, challengePath(token));

  assert.equal(response.status, 200);
  assert.equal(response.body, body);
  assert.equal(response.warnings?.length, 1, JSON.stringify(response.warnings));
  const [warning = ''] = response.warnings ?? [];
  assert.ok(warning.includes(`${name} has AAAA ::1 (connection refused) on port ${state.nginx.httpPort}`), warning);
  assert.match(warning, /as Let's Encrypt does too, but the AAAA record points at something that does not serve the site/);
  assert.doesNotMatch(warning, /IPv6 not checked/);
});

// This machine's IPv6 default route leads to a gateway (fd00::1) that never answers neighbour
// discovery, so a connection to 2001:db8::1 (the documentation prefix, RFC 3849: routed nowhere)
// fails with EHOSTUNREACH after about 3 s: IPv6 is configured but goes nowhere. On a machine with
// working IPv6 the packets are dropped upstream and the preflight's connect timeout (half the
// deadline) ends the attempt; in Lambda outside a dual-stack VPC the connect fails at once with
// ENETUNREACH. All three are "this function cannot reach that IPv6 address", one warning.
test('warns "IPv6 not checked", naming the name and address, when the AAAA address cannot be reached and IPv4 answers', async () => {
  const name = `${uniqueLabel('nov6route')}.test`;
  await dnsManagement('/add-aaaa', { host: `${name}.`, addresses: ['2001:db8::1'] });
  cleanups.push(() => dnsManagement('/clear-aaaa', { host: `${name}.` }));
  const { token, body } = await publishProbe();
  const patient = new HttpPreflight({ dnsServer: state.dns.server, port: state.nginx.httpPort, timeoutMs: 10_000 });

  const response = await patient.fetch(name, challengePath(token));

  assert.equal(response.status, 200);
  assert.equal(response.body, body);
  assert.equal(response.warnings?.length, 1, JSON.stringify(response.warnings));
  const [warning = ''] = response.warnings ?? [];
  assert.match(warning, /^IPv6 not checked: /);
  assert.match(warning, new RegExp(`${name.replace(/\./g, '\\.')} has AAAA 2001:db8::1 \\((host unreachable|network unreachable|connection timed out)\\)`));
  assert.match(warning, /Let's Encrypt tries IPv6 first/);
  assert.match(warning, /dual-stack VPC \(docs\/deploy\.md\)/);
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

// Redirects. The replica's nginx makes the first one itself: its port-80 server answers the
// challenge prefix and redirects every other path to https://$host$request_uri, as a real host
// does. The replica has no https server that answers for any name, or that redirects onwards, so a
// small https site on a free loopback port stands in for every name's port 443: that port mapping
// is what HttpPreflight's `httpsPort` option is for (as `port` maps port 80 to nginx's). Its
// certificate is a self-signed placeholder for another name: the CA does not verify it on a
// redirect, and neither does the preflight.

interface SiteRequest {
  servername: string | false | null;
  host: string;
  path: string;
}

/** What the https site answers for a Host and a path (status, Location, body). */
type SiteAnswer = (host: string, path: string) => { status: number; location?: string; body?: string };

const site = { port: 0, requests: [] as SiteRequest[], answer: (() => ({ status: 404 })) as SiteAnswer };
let redirecting: HttpPreflight;

before(async () => {
  const { certificatePem, keyPem } = createPlaceholder('not-the-name.test', new Date());
  const server = createHttpsServer({ cert: certificatePem, key: keyPem }, (request, response) => {
    const host = request.headers.host ?? '';
    const path = request.url ?? '';
    site.requests.push({ servername: (request.socket as TLSSocket).servername, host, path });
    const { status, location, body = '' } = site.answer(host, path);
    response.writeHead(status, location ? { location } : {}).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  site.port = (server.address() as AddressInfo).port;
  redirecting = new HttpPreflight({ dnsServer: state.dns.server, port: state.nginx.httpPort, httpsPort: site.port, timeoutMs: 5000 });
});

/** Sets what the https site answers, and forgets what it was asked. */
function siteAnswers(answer: SiteAnswer): void {
  site.requests = [];
  site.answer = answer;
}

test('follows http to https on another name and back to http, and returns the final answer (the probe through nginx)', async () => {
  const [a, b, c] = [uniqueLabel('redir-a'), uniqueLabel('redir-b'), uniqueLabel('redir-c')].map((label) => `${label}.test`);
  const { token, body } = await publishProbe();
  siteAnswers((host, path) => {
    if (host === a && path === '/moved') return { status: 302, location: `https://${b}/moved-again` };
    if (host === b && path === '/moved-again') return { status: 307, location: `http://${c}${challengePath(token)}` };
    return { status: 404 };
  });

  const response = await redirecting.fetch(a as string, '/moved');

  assert.deepEqual(response, { status: 200, body });
  assert.deepEqual(site.requests, [
    { servername: a, host: a, path: '/moved' },
    { servername: b, host: b, path: '/moved-again' },
  ]);
});

test('follows 10 redirects', async () => {
  const name = `${uniqueLabel('ten')}.test`;
  siteAnswers((_host, path) => {
    const hop = Number(path.split('/')[2]);
    return hop === 9 ? { status: 200, body: 'the end' } : { status: 301, location: `/hop/${hop + 1}` };
  });

  // nginx's redirect to https is the first; the site's /hop/0 … /hop/8 are the other nine.
  const response = await redirecting.fetch(name, '/hop/0');

  assert.deepEqual(response, { status: 200, body: 'the end' });
  assert.equal(site.requests.length, 10);
});

test('refuses the 11th redirect, naming the hop', async () => {
  const name = `${uniqueLabel('eleven')}.test`;
  siteAnswers((_host, path) => ({ status: 301, location: `/hop/${Number(path.split('/')[2]) + 1}` }));

  await assert.rejects(redirecting.fetch(name, '/hop/0'), (error: Error) => {
    assert.ok(error instanceof RedirectRefusedError, String(error));
    assert.equal(error.message, `https://${name}/hop/9 redirected to https://${name}/hop/10 (redirect 11): Let's Encrypt follows at most 10 redirects`);
    return true;
  });
  assert.equal(site.requests.length, 10);
});

const refusals: { name: string; status: number; location: (name: string) => string; reason: (name: string) => string }[] = [
  { name: 'refuses a redirect to a scheme other than http and https', status: 302, location: (name) => `ftp://${name}/file`, reason: (name) => `ftp://${name}/file (redirect 2): Let's Encrypt follows only http and https, not ftp` },
  { name: 'refuses a redirect to a port other than 80 and 443', status: 302, location: (name) => `http://${name}:8080/x`, reason: (name) => `http://${name}:8080/x (redirect 2): Let's Encrypt connects only to ports 80 and 443, not 8080` },
  { name: 'refuses a redirect to a reserved IP address', status: 302, location: () => 'http://127.0.0.1/x', reason: () => `http://127.0.0.1/x (redirect 2): Let's Encrypt does not connect to a reserved IP address (127.0.0.0/8, Loopback, RFC 1122)` },
  { name: 'refuses a redirect loop', status: 302, location: (name) => `https://${name}/start`, reason: (name) => `https://${name}/start (redirect 2): a redirect loop (that URL was already asked)` },
  { name: "refuses a 303, which Let's Encrypt does not follow", status: 303, location: (name) => `https://${name}/other`, reason: (name) => `https://${name}/other (redirect 2): Let's Encrypt does not follow a 303 redirect (only 301, 302, 307 and 308)` },
];

for (const { name: title, status, location, reason } of refusals) {
  test(title, async () => {
    const name = `${uniqueLabel('refused')}.test`;
    siteAnswers(() => ({ status, location: location(name) }));

    await assert.rejects(redirecting.fetch(name, '/start'), (error: Error) => {
      assert.ok(error instanceof RedirectRefusedError, String(error));
      assert.equal(error.message, `https://${name}/start redirected to ${reason(name)}`);
      return true;
    });
    assert.equal(site.requests.length, 1);
  });
}

test('names the redirected-to URL when a later hop cannot be reached', async () => {
  const name = `${uniqueLabel('gone')}.test`;
  const dark = `${uniqueLabel('dark')}.test`;
  await setDnsA(state, dark, '127.0.0.9');
  cleanups.push(() => clearDnsA(state, dark));
  siteAnswers(() => ({ status: 301, location: `https://${dark}/x` }));

  await assert.rejects(redirecting.fetch(name, '/start'), (error: Error) => {
    assert.equal(error.message, `https://${dark}/x (after 2 redirects): no address of ${dark} accepts connections (127.0.0.9 port ${site.port}: connection refused; 3 tries)`);
    return true;
  });
});

test('keeps at most 4 KiB of the final answer', async () => {
  siteAnswers(() => ({ status: 200, body: 'x'.repeat(10_000) }));

  const response = await redirecting.fetch(`${uniqueLabel('large')}.test`, '/large');

  assert.equal(response.status, 200);
  assert.equal(response.body, 'x'.repeat(4096));
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
