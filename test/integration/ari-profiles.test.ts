/**
 * Let's Encrypt 2026–2028 on the replica: renewal windows (ARI, RFC 9773), profiles, key rotation
 * after a refused key, the account contact and the common name. The renew workflow runs against
 * the real Pebble through the ARI responder (scripts/replica/ari-responder.ts), a test fixture
 * that adds what Pebble 2.4 lacks: renewalInfo and meta.profiles in the directory, the windows
 * each test sets, and the refusal of a blocked key at finalize (Pebble cannot be made to block one).
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import acme from 'acme-client';
import { certificateRenewalInfoId } from '../../functions/core/ari.js';
import { keySha256, parsePrivateKey, splitCertificates } from '../../functions/core/certificate.js';
import { parseStatus } from '../../functions/core/status.js';
import { startAriResponder, type AriResponder } from '../../scripts/replica/ari-responder.js';
import { renewHarness, type RenewHarness } from '../helpers/renew-harness.js';
import { addDomainFolder, getText, putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';

const state = replicaState();
const s3 = s3Client(state);
const fixtures: AriResponder[] = [];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

after(async () => {
  for (const fixture of fixtures) await fixture.close();
});

/** The ARI responder in front of Pebble, with Pebble's API certificate. */
async function ariResponder(): Promise<AriResponder> {
  const pebble = dirname(state.acme.apiCaFile);
  const fixture = await startAriResponder({
    target: new URL(state.acme.directoryUrl).origin,
    tls: { cert: readFileSync(join(pebble, 'api-server.pem')), key: readFileSync(join(pebble, 'api-server.key')), ca: readFileSync(state.acme.apiCaFile) },
  });
  fixtures.push(fixture);
  return fixture;
}

/** A harness whose CA is `fixture`, with a clock that tests can move forward. */
async function harnessFor(fixture: AriResponder, overrides: Record<string, string> = {}): Promise<RenewHarness & { advance(ms: number): void }> {
  let offset = 0;
  const harness = await renewHarness({ ACME_DIRECTORY_URL: fixture.directoryUrl, ...overrides }, { now: () => new Date(Date.now() + offset) });
  return Object.assign(harness, { advance: (ms: number) => void (offset += ms) });
}

async function status(bucket: string, domain: string) {
  const parsed = parseStatus(await getText(s3, bucket, `${domain}/status.json`));
  assert.ok(parsed, `${domain}/status.json`);
  return parsed;
}

async function leafOf(bucket: string, domain: string): Promise<string> {
  const [leaf] = splitCertificates((await getText(s3, bucket, `${domain}/domain.crt`)) ?? '');
  assert.ok(leaf, `${domain}/domain.crt holds a certificate`);
  return leaf;
}

/** The ARI identifier as openssl reads the certificate: base64url of the AKI keyid, a dot, of the serial's DER value. */
function opensslRenewalInfoId(leafPem: string): string {
  const text = execFileSync('openssl', ['x509', '-noout', '-serial', '-ext', 'authorityKeyIdentifier'], { input: leafPem, encoding: 'utf8' });
  const serial = /serial=([0-9A-F]+)/.exec(text)?.[1] ?? '';
  const keyId = (/Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1] ?? '').replace(/:/g, '');
  const serialBytes = Buffer.from(serial.length % 2 ? `0${serial}` : serial, 'hex');
  const der = (serialBytes[0] ?? 0) >= 0x80 ? Buffer.concat([Buffer.from([0]), serialBytes]) : serialBytes;
  return `${Buffer.from(keyId, 'hex').toString('base64url')}.${der.toString('base64url')}`;
}

describe('renewal windows (ARI, RFC 9773)', () => {
  test('a window far ahead is fetched and kept until Retry-After; moved to now, the certificate is renewed with "replaces", logging the explanation', async () => {
    const fixture = await ariResponder();
    fixture.setWindow('*', { start: new Date(Date.now() + 50 * DAY), end: new Date(Date.now() + 52 * DAY), retryAfterSeconds: 60 });
    const harness = await harnessFor(fixture);
    const domain = `${uniqueLabel('ari')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    const first = await harness.run();
    const firstLeaf = await leafOf(harness.bucket, domain);
    const certId = certificateRenewalInfoId(firstLeaf);

    const quiet = await harness.run();
    const fetchesAfterQuiet = [...fixture.renewalInfoFetches];
    const withinRetryAfter = await harness.run();
    fixture.setWindow(certId ?? '', { start: new Date(Date.now() - HOUR), end: new Date(Date.now() + HOUR), explanationURL: 'https://ca.test/incident/42', retryAfterSeconds: 3600 });
    harness.advance(2 * 60_000);
    const moved = await harness.run();

    assert.equal(first.outcomes[0]?.outcome, 'renewed');
    assert.equal(opensslRenewalInfoId(firstLeaf), certId, 'the identifier is what openssl reads of the certificate');
    assert.deepEqual(fetchesAfterQuiet, [certId], 'the first certificate is asked about once, at the run after its issue');
    assert.equal(quiet.outcomes[0]?.outcome, 'not due');
    assert.equal(withinRetryAfter.outcomes[0]?.outcome, 'not due');
    assert.deepEqual(fixture.renewalInfoFetches, [certId, certId], 'not asked again before Retry-After; asked again after');
    const renewed = moved.outcomes[0];
    assert.ok(renewed?.outcome === 'renewed', JSON.stringify(renewed));
    assert.match(renewed.reason, /^the CA's renewal window \(.+\) puts its renewal at .+, before the next run .+; the CA explains: https:\/\/ca\.test\/incident\/42$/);
    assert.deepEqual(fixture.orders.map((order) => order.replaces ?? null), [null, certId]);
    assert.ok(harness.logs.some((line) => line.includes('"explanationURL":"https://ca.test/incident/42"')), 'the explanation URL is logged');
  });

  test('the window is kept in status.json with the point chosen in it; a run with nothing new writes nothing', async () => {
    const fixture = await ariResponder();
    const start = new Date(Date.now() + 40 * DAY);
    fixture.setWindow('*', { start, end: new Date(start.getTime() + 2 * DAY), retryAfterSeconds: 60 });
    const harness = await harnessFor(fixture);
    const domain = `${uniqueLabel('arikeep')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    await harness.run();
    await harness.run();
    const kept = (await status(harness.bucket, domain)).renewalInfo;
    const statusText = await getText(s3, harness.bucket, `${domain}/status.json`);

    harness.advance(2 * 60_000);
    await harness.run();

    assert.ok(kept, 'status.json keeps the window');
    assert.equal(kept.windowStart, start.toISOString());
    assert.ok(new Date(kept.selectedAt) >= start && new Date(kept.selectedAt) < new Date(start.getTime() + 2 * DAY), `chosen inside the window: ${kept.selectedAt}`);
    assert.equal(fixture.renewalInfoFetches.length, 2, 'asked again once Retry-After passed');
    assert.equal(await getText(s3, harness.bucket, `${domain}/status.json`), statusText, 'the same window and a Retry-After within the next run: nothing rewritten');
  });

  test('without renewalInfo in the directory nothing is asked, no "replaces" is sent, and the schedule decides; a failing renewalInfo falls back too', async () => {
    const fixture = await ariResponder();
    fixture.setAri(false);
    const harness = await harnessFor(fixture);
    const domain = `${uniqueLabel('noari')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    await harness.run();

    const quiet = await harness.run();
    const forced = await harness.run({ domains: [domain], force: true });
    fixture.setAri(true);
    fixture.setRenewalInfoFault(503);
    const faulted = await harness.run();

    assert.equal(quiet.outcomes[0]?.outcome, 'not due');
    assert.match(quiet.outcomes[0]?.reason ?? '', /^valid until .+; renews after /);
    assert.equal(forced.outcomes[0]?.outcome, 'renewed');
    assert.deepEqual(fixture.orders.map((order) => order.replaces ?? null), [null, null]);
    assert.equal(faulted.outcomes[0]?.outcome, 'not due');
    assert.equal(fixture.renewalInfoFetches.length, 1, 'asked only once ARI was offered');
    assert.ok(harness.logs.some((line) => line.includes('could not ask the CA for the renewal window; the schedule decides') && line.includes('answered 503')), 'the failure is logged with its cause');
  });
});

describe('profiles', () => {
  const offered = { classic: 'The same profile you know', tlsserver: '45-day certificates for TLS servers', shortlived: '6-day certificates' };

  test('a profile the directory offers is sent with the order', async () => {
    const fixture = await ariResponder();
    fixture.setProfiles(offered);
    const harness = await harnessFor(fixture);
    const domain = `${uniqueLabel('profile')}.test`;
    await addDomainFolder(s3, harness.bucket, domain, { profile: 'tlsserver' });

    const report = await harness.run();

    assert.equal(report.outcomes[0]?.outcome, 'renewed');
    assert.deepEqual(fixture.orders.map((order) => order.profile), ['tlsserver']);
  });

  test('a profile the directory does not offer fails the domain at order, naming the offered ones, before any order or preflight', async () => {
    const fixture = await ariResponder();
    fixture.setProfiles(offered);
    const harness = await harnessFor(fixture);
    const [unknown, noProfiles] = [`${uniqueLabel('badprofile')}.test`, `${uniqueLabel('noprofiles')}.test`];
    await addDomainFolder(s3, harness.bucket, unknown, { profile: 'longlived' });

    const report = await harness.run();
    fixture.setProfiles(null);
    await addDomainFolder(s3, harness.bucket, noProfiles, { profile: 'tlsserver' });
    const second = await harness.run({ domains: [noProfiles] });

    assert.deepEqual(report.outcomes[0], { domain: unknown, outcome: 'failed', step: 'order', reason: 'config.json asks for profile "longlived", which the CA does not offer (it offers: classic, shortlived, tlsserver)' });
    assert.equal(second.outcomes[0]?.outcome, 'failed');
    assert.match(second.outcomes[0]?.outcome === 'failed' ? second.outcomes[0].reason : '', /the CA offers no profiles \(its directory has no meta.profiles\)/);
    assert.deepEqual(fixture.orders, []);
    assert.ok(!harness.logs.some((line) => line.includes('"step":"preflight"')), 'refused before the preflight');
    assert.equal((await status(harness.bucket, unknown)).lastAttempt?.step, 'order');
  });
});

describe('domain keys', () => {
  test('a key the CA refuses fails that attempt at finalize; a later attempt uses a new key by itself, even with "reuseKey": true and a failure between', async () => {
    const fixture = await ariResponder();
    const harness = await harnessFor(fixture);
    const domain = `${uniqueLabel('blocked')}.test`;
    await addDomainFolder(s3, harness.bucket, domain, { reuseKey: true });
    await harness.run();
    const [keyBefore, crtBefore] = [await getText(s3, harness.bucket, `${domain}/domain.key`), await getText(s3, harness.bucket, `${domain}/domain.crt`)];
    fixture.refuseKeys([keySha256(parsePrivateKey(keyBefore ?? ''))]);

    const refused = await harness.run({ domains: [domain], force: true });
    const afterRefusal = await status(harness.bucket, domain);
    const crtAfterRefusal = await getText(s3, harness.bucket, `${domain}/domain.crt`);
    fixture.setProfiles({ classic: 'the default' });
    await putText(s3, harness.bucket, `${domain}/config.json`, JSON.stringify({ reuseKey: true, profile: 'longlived' }));
    const between = await harness.run({ domains: [domain], force: true });
    await putText(s3, harness.bucket, `${domain}/config.json`, JSON.stringify({ reuseKey: true }));
    const next = await harness.run({ domains: [domain], force: true });

    const failure = refused.outcomes[0];
    assert.ok(failure?.outcome === 'failed' && failure.step === 'finalize', JSON.stringify(failure));
    assert.match(failure.reason, /the CA refused the domain key: public key is blocked \(test fixture\).*the next attempt uses a new key/);
    assert.equal(afterRefusal.refusedKeySha256, keySha256(parsePrivateKey(keyBefore ?? '')), 'status.json names the refused key');
    assert.equal(crtAfterRefusal, crtBefore, 'the stored pair is untouched by the refusal');
    assert.equal(between.outcomes[0]?.outcome === 'failed' && between.outcomes[0].step, 'order');
    assert.equal(next.outcomes[0]?.outcome, 'renewed');
    const keyAfter = await getText(s3, harness.bucket, `${domain}/domain.key`);
    assert.notEqual(keyAfter, keyBefore);
    assert.ok(harness.logs.some((line) => line.includes('creating a new domain key: the stored one was refused by the CA or revoked for key compromise')));
    assert.equal(fixture.refusedFinalizes, 1);
    assert.equal((await status(harness.bucket, domain)).refusedKeySha256, undefined, 'a renewal with another key forgets the refusal');
  });

  test('the CSR names the domain itself as the common name, though another name sorts first', async () => {
    const fixture = await ariResponder();
    const harness = await harnessFor(fixture);
    const domain = `${uniqueLabel('zulu')}.test`;
    await addDomainFolder(s3, harness.bucket, domain, { names: [`api.${domain}`, domain] });

    const report = await harness.run();

    assert.equal(report.outcomes[0]?.outcome, 'renewed');
    const requested = acme.crypto.readCsrDomains((await getText(s3, harness.bucket, `${domain}/domain.csr`)) ?? '');
    assert.equal(requested.commonName, domain);
  });
});

describe('the account contact', () => {
  test('is updated only when it changed', async () => {
    const fixture = await ariResponder();
    const email = `${uniqueLabel('ops')}@example.com`;
    const runs = async (contact: string) => {
      const harness = await harnessFor(fixture, { ACME_CONTACT_EMAIL: contact });
      const domain = `${uniqueLabel('contact')}.test`;
      await addDomainFolder(s3, harness.bucket, domain);
      await harness.run();
      return harness.logs.filter((line) => line.includes('updated the account contact')).length;
    };

    const changed = await runs(email);
    const same = await runs(email);
    const changedAgain = await runs(`other-${email}`);

    assert.deepEqual([changed, same, changedAgain], [1, 0, 1]);
  });
});

describe('the preflight, as the CA sees names', () => {
  // On the replica the CA shares this function's network, so it cannot reach the address either,
  // and fails the validation as Let's Encrypt does for a wrong AAAA record: the warning logged
  // before the order is what tells the two apart where the function has no IPv6 route (Lambda
  // outside a dual-stack VPC) and the CA has one.
  test('a name with an AAAA record this function cannot reach is logged "IPv6 not checked" at preflight; the CA, trying IPv6 first, fails it naming the address', async () => {
    const fixture = await ariResponder();
    const harness = await harnessFor(fixture);
    const domain = `${uniqueLabel('sixless')}.test`;
    await addDomainFolder(s3, harness.bucket, domain, { names: [domain] });
    // 2001:db8::/32 is for documentation: nothing answers there.
    await dnsManagement('/add-aaaa', { host: `${domain}.`, addresses: ['2001:db8::1'] });
    try {
      const report = await harness.run();

      const outcome = report.outcomes[0];
      assert.ok(outcome?.outcome === 'failed' && outcome.step === 'validate', JSON.stringify(outcome));
      assert.match(outcome.reason, /\[2001:db8::1\]/);
      assert.match(outcome.reason, new RegExp(`\\(the preflight warned: IPv6 not checked: ${domain.replace(/\./g, '\\.')} has AAAA 2001:db8::1`), 'the failure carries the warning that explains it');
      const warning = harness.logs.find((line) => line.includes('"level":"warn"') && line.includes('IPv6 not checked'));
      assert.ok(warning, 'the preflight warned before the order');
      assert.ok(warning.includes('"step":"preflight"') && warning.includes(`IPv6 not checked: ${domain} has AAAA 2001:db8::1`), warning);
      assert.ok(harness.logs.indexOf(warning) < harness.logs.findIndex((line) => line.includes('placing order')), 'warned before the order was placed');
    } finally {
      await dnsManagement('/clear-aaaa', { host: `${domain}.` });
    }
  });
});

async function dnsManagement(path: string, body: object): Promise<void> {
  const response = await fetch(`${state.dns.managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  assert.ok(response.ok, `${path}: ${response.status}`);
}
