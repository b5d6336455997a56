/**
 * The ARI and profiles test fixture (scripts/replica/ari-responder.ts) in front of the replica's
 * real Pebble 2.4, which has neither: its directory, the windows it serves, the orders it records
 * and passes on, and the finalize it refuses for a blocked key. The tests of the renewal workflow
 * rely on each of these.
 */

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import acme from 'acme-client';
import type { AxiosResponse } from 'axios';
import { keySha256 } from '../../functions/core/certificate.js';
import { startAriResponder, type AriResponder } from '../../scripts/replica/ari-responder.js';
import { replicaState, uniqueLabel } from '../helpers/replica-clients.js';

const state = replicaState();
const pebbleOrigin = new URL(state.acme.directoryUrl).origin;
const fixtures: AriResponder[] = [];
/** One ACME account for this run, never seen before. */
const accountKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

// acme-client's HTTP layer: a timeout (it has none by default), no retries of its own, no log.
acme.axios.defaults.timeout = 15_000;
(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
acme.setLogger(() => undefined);
/** Every answer acme-client received, to see the status, headers and problem document behind its errors. */
const answers: AxiosResponse[] = [];
const recorder = acme.axios.interceptors.response.use((response) => {
  answers.push(response);
  return response;
});

after(async () => {
  acme.axios.interceptors.response.eject(recorder);
  for (const fixture of fixtures) await fixture.close();
});

/** A fixture in front of Pebble, with Pebble's API certificate (trusted like Pebble's own). */
async function ariResponder(): Promise<AriResponder> {
  const pebble = dirname(state.acme.apiCaFile);
  const fixture = await startAriResponder({
    target: pebbleOrigin,
    tls: { cert: readFileSync(join(pebble, 'api-server.pem')), key: readFileSync(join(pebble, 'api-server.key')), ca: readFileSync(state.acme.apiCaFile) },
  });
  fixtures.push(fixture);
  return fixture;
}

let accountCreated = false;

/** An acme-client client of the run's account (created by the first one) through `fixture`. */
async function accountClient(fixture: AriResponder): Promise<acme.Client> {
  const client = new acme.Client({ directoryUrl: fixture.directoryUrl, accountKey: accountKeyPem });
  // acme-client 5.4 retries a bad nonce 5 times and has no option for it; scripts/test.sh runs Pebble rejecting half of all nonces.
  (client as unknown as { http: { maxBadNonceRetries: number } }).http.maxBadNonceRetries = 30;
  // Each fixture has its own port, and Pebble checks the account URL (kid) against the request's host:
  // later clients look the account up through their fixture (RFC 8555 §7.3.1) rather than reuse its URL.
  await client.createAccount(accountCreated ? { onlyReturnExisting: true } : { termsOfServiceAgreed: true });
  accountCreated = true;
  return client;
}

async function getJson(url: string): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

/** A new ECDSA P-256 domain key and a CSR for `name` signed with it. */
async function keyAndCsr(name: string): Promise<{ spkiSha256: string; csr: Buffer }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const [, csr] = await acme.crypto.createCsr({ altNames: [name] }, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  return { spkiSha256: keySha256(privateKey), csr };
}

/** The last answer acme-client got from a POST to `url`, and the nonce that request carried. */
function lastAnswerTo(url: string): { response: AxiosResponse; sentNonce: string } {
  const response = answers.filter((answer) => answer.config.url === url && answer.config.method === 'post').at(-1);
  assert.ok(response, `no answer to ${url}`);
  const jws = JSON.parse(String(response.config.data)) as { protected: string };
  const header = JSON.parse(Buffer.from(jws.protected, 'base64url').toString('utf8')) as { nonce: string };
  return { response, sentNonce: header.nonce };
}

const PROFILES = { classic: 'the default profile', tlsserver: '45-day certificates for TLS servers', shortlived: '6-day certificates' };

describe('the ARI and profiles test fixture in front of Pebble', () => {
  test('serves Pebble\'s directory pointing at itself, with renewalInfo and meta.profiles, and without them when turned off', async () => {
    const fixture = await ariResponder();
    const pebble = (await getJson(state.acme.directoryUrl)).body as { newOrder: string; meta: Record<string, unknown> };
    fixture.setProfiles(PROFILES);

    const offered = (await getJson(fixture.directoryUrl)).body as { newOrder: string; renewalInfo?: string; meta: Record<string, unknown> };
    fixture.setAri(false);
    fixture.setProfiles(null);
    const withdrawn = (await getJson(fixture.directoryUrl)).body as { newOrder: string; renewalInfo?: string; meta: Record<string, unknown> };

    assert.equal(offered.renewalInfo, `${fixture.url}/renewal-info`);
    assert.deepEqual(offered.meta, { ...pebble.meta, profiles: PROFILES });
    assert.equal(offered.newOrder, `${fixture.url}${new URL(pebble.newOrder).pathname}`);
    assert.equal(withdrawn.renewalInfo, undefined);
    assert.deepEqual(withdrawn.meta, pebble.meta);
    assert.equal(withdrawn.newOrder, offered.newOrder);
  });

  test('serves the window set for a certificate with its Retry-After and explanationURL, and the \'*\' window, six hours, for any other', async () => {
    const fixture = await ariResponder();
    fixture.setWindow('AAAA.AQ', { start: new Date('2026-07-01T00:00:00Z'), end: new Date('2026-07-03T00:00:00Z'), explanationURL: 'https://example.com/incident', retryAfterSeconds: 120 });
    fixture.setWindow('*', { start: new Date('2026-08-01T00:00:00Z'), end: new Date('2026-08-02T12:00:00Z') });

    const own = await getJson(`${fixture.url}/renewal-info/AAAA.AQ`);
    const other = await getJson(`${fixture.url}/renewal-info/BBBB.Ag`);

    assert.equal(own.status, 200);
    assert.equal(own.headers.get('content-type'), 'application/json');
    assert.equal(own.headers.get('retry-after'), '120');
    assert.deepEqual(own.body, { suggestedWindow: { start: '2026-07-01T00:00:00.000Z', end: '2026-07-03T00:00:00.000Z' }, explanationURL: 'https://example.com/incident' });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('retry-after'), '21600');
    assert.deepEqual(other.body, { suggestedWindow: { start: '2026-08-01T00:00:00.000Z', end: '2026-08-02T12:00:00.000Z' } });
    assert.deepEqual(fixture.renewalInfoFetches, ['AAAA.AQ', 'BBBB.Ag']);
  });

  test('answers 404 for a certificate without a window when no \'*\' is set, the status a test asks for while faulted, and 404 with ARI off', async () => {
    const fixture = await ariResponder();
    fixture.setWindow('AAAA.AQ', { start: new Date('2026-07-01T00:00:00Z'), end: new Date('2026-07-03T00:00:00Z') });

    const unknown = await getJson(`${fixture.url}/renewal-info/CCCC.Aw`);
    fixture.setRenewalInfoFault(503);
    const faulted = await getJson(`${fixture.url}/renewal-info/AAAA.AQ`);
    fixture.setRenewalInfoFault(null);
    const recovered = await getJson(`${fixture.url}/renewal-info/AAAA.AQ`);
    fixture.setAri(false);
    const withdrawn = await getJson(`${fixture.url}/renewal-info/AAAA.AQ`);

    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('content-type'), 'application/problem+json');
    assert.equal(faulted.status, 503);
    assert.equal(faulted.body.type, 'urn:ietf:params:acme:error:serverInternal');
    assert.equal(recovered.status, 200);
    assert.equal(withdrawn.status, 404);
    assert.deepEqual(fixture.renewalInfoFetches, ['CCCC.Aw', 'AAAA.AQ', 'AAAA.AQ', 'AAAA.AQ']);
  });

  test('records an order carrying replaces and profile, and Pebble 2.4 accepts it', async () => {
    const fixture = await ariResponder();
    const client = await accountClient(fixture);
    const identifiers = [{ type: 'dns', value: `${uniqueLabel('ari')}.test` }];
    // acme-client 5.4's type knows neither field; it sends the payload as given.
    const payload = { identifiers, replaces: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', profile: 'tlsserver' };

    const order = await client.createOrder(payload);

    assert.equal(order.status, 'pending');
    assert.deepEqual(order.identifiers, identifiers);
    assert.ok(order.finalize.startsWith(`${fixture.url}/`), order.finalize);
    assert.deepEqual(fixture.orders, [payload]);
  });

  test('refuses a finalize whose CSR carries a blocked key with badPublicKey and a fresh nonce, before Pebble; another key reaches Pebble', async () => {
    const fixture = await ariResponder();
    const client = await accountClient(fixture);
    const name = `${uniqueLabel('blocked')}.test`;
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: name }] });
    const blocked = await keyAndCsr(name);
    const other = await keyAndCsr(name);
    fixture.refuseKeys([blocked.spkiSha256]);

    await assert.rejects(client.finalizeOrder(order, blocked.csr), /^Error: public key is blocked \(test fixture\)$/);
    const refusal = lastAnswerTo(order.finalize);
    // The order is still pending: Pebble would refuse any finalize (orderNotReady), so this one reached it.
    await assert.rejects(client.finalizeOrder(order, other.csr));
    const passed = lastAnswerTo(order.finalize);

    assert.equal(refusal.response.status, 400);
    assert.equal(refusal.response.headers['content-type'], 'application/problem+json');
    assert.deepEqual(refusal.response.data, { type: 'urn:ietf:params:acme:error:badPublicKey', detail: 'public key is blocked (test fixture)', status: 400 });
    assert.match(String(refusal.response.headers['replay-nonce']), /^[A-Za-z0-9_-]+$/);
    assert.notEqual(refusal.response.headers['replay-nonce'], refusal.sentNonce);
    assert.equal(fixture.refusedFinalizes, 1);
    assert.equal(passed.response.status, 403);
    assert.equal((passed.response.data as { type?: string }).type, 'urn:ietf:params:acme:error:orderNotReady');
  });
});
