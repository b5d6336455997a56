/**
 * Transient faults on the replica: a fault-injecting proxy (scripts/replica/fault-proxy.ts) in
 * front of the real Pebble or the real moto answers chosen requests with what a real CA or a real
 * AWS answers when it is busy or broken (503 with Retry-After, 429, SlowDown, ThrottlingException,
 * 500, a reset, an answer lost after the request was carried out), and the run's clock is set off
 * the CA's. Every case ends with the domain renewed, or with a failure that names the true cause,
 * and status.json never loses its digests.
 */

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { startFaultProxy, type FaultProxy, type FaultRule } from '../../scripts/replica/fault-proxy.js';
import { writeSite } from '../../scripts/replica/sites.js';
import type { DomainOutcome } from '../../functions/workflows/renew-domain.js';
import { addDomainFolder, getText, pebbleRoot, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness, type HarnessOptions } from '../helpers/renew-harness.js';
import { agentSetup, ensureAgentBuilt, runAgent } from '../helpers/sync-harness.js';
import { tempDir } from '../helpers/temp.js';

const state = replicaState();
const s3 = s3Client(state);
const proxies: FaultProxy[] = [];
const sites: string[] = [];
before(() => ensureAgentBuilt());
after(async () => {
  for (const proxy of proxies) await proxy.close();
  sites.forEach((site) => rmSync(site, { force: true }));
});

/** A proxy in front of Pebble, with its API certificate (trusted like Pebble's own). */
async function caProxy(rules: FaultRule[]): Promise<FaultProxy> {
  const pebble = dirname(state.acme.apiCaFile);
  const proxy = await startFaultProxy({
    target: new URL(state.acme.directoryUrl).origin,
    tls: { cert: readFileSync(join(pebble, 'api-server.pem')), key: readFileSync(join(pebble, 'api-server.key')), ca: readFileSync(state.acme.apiCaFile) },
    rules,
  });
  proxies.push(proxy);
  return proxy;
}

/** A proxy in front of moto (S3, SSM), drawing its faults from a fixed seed. */
async function awsProxy(rules: FaultRule[], seed = 7): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ target: state.awsEndpoint, rules, seed });
  proxies.push(proxy);
  return proxy;
}

/** A harness whose CA is reached through `ca` and whose AWS clients (built as the function builds them) through `aws`. */
function harnessThrough(proxies: { ca?: FaultProxy; aws?: FaultProxy }, overrides: Record<string, string> = {}, options: HarnessOptions = {}) {
  return renewHarness(
    { ...(proxies.ca ? { ACME_DIRECTORY_URL: `${proxies.ca.url}/dir` } : {}), AWS_ENDPOINT_URL: proxies.aws?.url ?? state.awsEndpoint, ...overrides },
    { productClients: true, ...options },
  );
}

async function newDomain(bucket: string, prefix: string): Promise<string> {
  const domain = `${uniqueLabel(prefix)}.test`;
  await addDomainFolder(s3, bucket, domain);
  return domain;
}

function outcomeOf(outcomes: DomainOutcome[], domain: string): DomainOutcome {
  const outcome = outcomes.find((item) => item.domain === domain);
  assert.ok(outcome, `no outcome for ${domain}`);
  return outcome;
}

async function statusOf(bucket: string, domain: string): Promise<{ serial: string | null; files: Record<string, string>; versions?: Record<string, string>; lastAttempt: { outcome: string; step?: string; reason?: string } | null }> {
  return JSON.parse((await getText(s3, bucket, `${domain}/status.json`)) ?? 'null');
}

const retriesLogged = (logs: string[]) => logs.filter((line) => line.includes('"retrying a request to the CA"')).map((line) => JSON.parse(line) as { request: string; cause: string });
const awsTriesLogged = (logs: string[]) => logs.filter((line) => line.includes('"an AWS request failed; the SDK tries it again while tries remain"')).map((line) => JSON.parse(line) as { operation: string; cause: string });
/** No nonce went out twice (RFC 8555 §6.5): every try was signed anew, with a nonce of its own. */
function assertNoNonceReused(ca: FaultProxy): void {
  const nonces = ca.log.flatMap((entry) => (entry.nonce ? [entry.nonce] : []));
  assert.ok(nonces.length > 0, 'signed requests went through the proxy');
  assert.equal(new Set(nonces).size, nonces.length, 'a nonce was sent twice');
}

const isPost = (path: RegExp) => (request: { method: string; path: string }) => request.method === 'POST' && path.test(request.path);

describe('transient faults of the CA', () => {
  test('one 503 on the directory and one on the account lookup are retried: the account is found, not registered again, and the domain renewed', async () => {
    // The replica's account exists before this run (a first run registers it; on a fresh replica, this one).
    const ca = await caProxy([]);
    const first = await harnessThrough({ ca });
    await newDomain(first.bucket, 'account');
    await first.run();
    const before = ca.log.length;
    ca.setRules([
      // The run's first GET of the directory measures its clock (a 503 has a Date header too); the second loads the account.
      { match: (request) => request.method === 'GET' && request.path === '/dir', times: 2, fault: 'server-error', retryAfterSeconds: 1 },
      { match: isPost(/^\/sign-me-up$/), times: 1, fault: 'server-error', retryAfterSeconds: 1 },
    ]);
    const harness = await harnessThrough({ ca });
    const domain = await newDomain(harness.bucket, 'ca503');

    const report = await harness.run();

    assert.equal(outcomeOf(report.outcomes, domain).outcome, 'renewed', JSON.stringify(report.outcomes));
    assert.deepEqual(retriesLogged(harness.logs).map((line) => [line.request, line.cause]), [
      ['GET /dir', 'HTTP 503 serverInternal, Retry-After 1'],
      ['POST /sign-me-up', 'HTTP 503 serverInternal, Retry-After 1'],
    ]);
    // The lookup (onlyReturnExisting) found the account (200), and none was created (201).
    const lookups = ca.log.slice(before).filter((entry) => isPost(/^\/sign-me-up$/)(entry.request));
    assert.ok(lookups.some((entry) => entry.status === 200), `lookups answered ${lookups.map((entry) => entry.status ?? entry.fault).join(', ')}`);
    assert.ok(!lookups.some((entry) => entry.status === 201), 'no new account');
    assert.ok(harness.logs.some((line) => line.includes('"ACME account ready"')));
    assertNoNonceReused(ca);
  });

  test('a connection reset after a 503 is retried with a fresh nonce: the one the 503 carried is used once, never again', async () => {
    const ca = await caProxy([
      { match: isPost(/^\/order-plz$/), times: 1, fault: 'server-error', retryAfterSeconds: 0 },
      { match: isPost(/^\/order-plz$/), times: 1, fault: 'reset' },
    ]);
    const harness = await harnessThrough({ ca });
    const domain = await newDomain(harness.bucket, 'reset');

    const report = await harness.run();

    assert.equal(outcomeOf(report.outcomes, domain).outcome, 'renewed', JSON.stringify(report.outcomes));
    assert.deepEqual(retriesLogged(harness.logs).map((line) => line.cause.split(':')[0]), ['HTTP 503 serverInternal, Retry-After 0', 'no answer (ECONNRESET)']);
    assertNoNonceReused(ca);
  });

  test('a newNonce that never answers is given up after the request timeout and tried again', async () => {
    const ca = await caProxy([{ match: (request) => request.method === 'HEAD' && request.path === '/nonce-plz', times: 1, fault: 'hang' }]);
    const harness = await harnessThrough({ ca }, { ACME_TIMEOUT_MS: '1000' });
    const domain = await newDomain(harness.bucket, 'hang');

    const report = await harness.run();

    assert.equal(outcomeOf(report.outcomes, domain).outcome, 'renewed', JSON.stringify(report.outcomes));
    assert.match(retriesLogged(harness.logs)[0]?.cause ?? '', /^no answer \(ETIMEDOUT\): request to the CA failed: HEAD \S+\/nonce-plz: no answer within 1000 ms/);
  });

  test('a CA answering every request with 503 stops the run once, naming the 503, after its tries; no domain records a failure', async () => {
    const ca = await caProxy([{ share: 1, fault: 'server-error', retryAfterSeconds: 1 }]);
    const harness = await harnessThrough({ ca });
    const domains = [await newDomain(harness.bucket, 'cadown'), await newDomain(harness.bucket, 'cadown')];

    const report = await harness.run();

    assert.match(report.stopped ?? '', /^account: looking up the account: the service is unavailable \(injected by the fault proxy\) \(HTTP 503 serverInternal, after 8 tries: gave up after 8 tries\)$/);
    for (const domain of domains) {
      assert.equal(outcomeOf(report.outcomes, domain).outcome, 'skipped');
      assert.equal(await getText(s3, harness.bucket, `${domain}/status.json`), null, 'the run\'s failure is not written into the domain');
    }
    assert.equal(ca.counts.faulted['server-error'], 9, 'one measurement of the clock, then eight tries of the directory, in one run');
  });

  test('a rate limit whose Retry-After is beyond what a run waits fails the domain at once, saying until when', async () => {
    const ca = await caProxy([{ match: isPost(/^\/order-plz$/), share: 1, fault: 'rate-limited', retryAfterSeconds: 3600 }]);
    const harness = await harnessThrough({ ca });
    const domain = await newDomain(harness.bucket, 'ratelimit');

    const outcome = outcomeOf((await harness.run()).outcomes, domain);

    assert.ok(outcome.outcome === 'failed');
    assert.equal(outcome.step, 'order');
    assert.match(outcome.reason, /^placing order: too many requests \(injected by the fault proxy\) \(HTTP 429 rateLimited: the CA asks to wait 3600 s \(until \S+\), longer than a run waits \(120 s\)\)$/);
    assert.equal(ca.counts.faulted['rate-limited'], 1, 'not tried again');
    const status = await statusOf(harness.bucket, domain);
    assert.equal(status.lastAttempt?.step, 'order');
    assert.equal(status.serial, null, 'a new domain: nothing known, nothing lost');
  });

  test('a finalize whose answer is lost is sent again; the order the CA already finalized is waited for, and the certificate stored', async () => {
    const ca = await caProxy([{ match: isPost(/^\/finalize-order\//), times: 1, fault: 'lost-answer' }]);
    const harness = await harnessThrough({ ca });
    const domain = await newDomain(harness.bucket, 'lostanswer');

    const report = await harness.run();

    assert.equal(outcomeOf(report.outcomes, domain).outcome, 'renewed', JSON.stringify(report.outcomes));
    assert.equal(ca.counts.faulted['lost-answer'], 1);
    assert.match(retriesLogged(harness.logs)[0]?.cause ?? '', /^no answer \((ECONNRESET|ETIMEDOUT)\)/);
    assertNoNonceReused(ca);
  });
});

describe('transient faults of S3 and SSM', () => {
  test('with a fifth of S3 requests answered SlowDown and the account key\'s reads throttled twice, every domain renews; each failed try is logged', async () => {
    const aws = await awsProxy([
      { match: (request) => request.service === 's3', share: 0.2, fault: 'slowdown' },
      { match: (request) => request.service === 'ssm', times: 2, fault: 'throttle' },
    ]);
    const harness = await harnessThrough({ aws });
    const domains = [await newDomain(harness.bucket, 'slowdown'), await newDomain(harness.bucket, 'slowdown'), await newDomain(harness.bucket, 'slowdown')];

    const report = await harness.run();

    for (const domain of domains) assert.equal(outcomeOf(report.outcomes, domain).outcome, 'renewed', JSON.stringify(report.outcomes));
    const tries = awsTriesLogged(harness.logs);
    assert.ok((aws.counts.faulted.slowdown ?? 0) > 0, 'S3 was slowed down');
    assert.equal(tries.filter((line) => line.cause.startsWith('SlowDown')).length, aws.counts.faulted.slowdown, 'every SlowDown logged');
    assert.deepEqual(tries.filter((line) => line.cause.startsWith('ThrottlingException')).map((line) => line.operation), ['GetParameterCommand', 'GetParameterCommand']);
    for (const domain of domains) assert.equal(Object.keys((await statusOf(harness.bucket, domain)).versions ?? {}).length, 2);
  });

  test('a read of status.json that keeps failing records nothing: its digests and serial stay, and the next run finds the domain not due', async () => {
    const setup = await renewHarness();
    const domain = await newDomain(setup.bucket, 'readfail');
    await setup.run();
    const before = await statusOf(setup.bucket, domain);
    const aws = await awsProxy([{ match: (request) => request.method === 'GET' && request.path.includes(`/${domain}/status.json`), times: 8, fault: 'internal' }]);
    const harness = await harnessThrough({ aws }, { CERTIFICATES_BUCKET: setup.bucket });

    const failed = outcomeOf((await harness.run()).outcomes, domain);
    const after = await statusOf(setup.bucket, domain);
    const next = outcomeOf((await setup.run()).outcomes, domain);

    assert.ok(failed.outcome === 'failed' && failed.step === 'load');
    assert.match(failed.reason, new RegExp(`reading s3://${setup.bucket}/${domain.replace(/\./g, '\\.')}/status\\.json: InternalError`));
    assert.deepEqual(after, before, 'status.json untouched: digests, serial and versions kept');
    assert.ok(harness.logs.some((line) => line.includes('status.json could not be read, so the failed attempt is not recorded in it')));
    assert.equal(next.outcome, 'not due');
  });

  test('a status.json commit that keeps failing leaves the previous pair in use: a new host installs it, and the next run repairs the folder without a new order', async () => {
    const setup = await renewHarness();
    const domain = await newDomain(setup.bucket, 'torn');
    sites.push(writeSite(state.nginx, domain));
    await setup.run();
    const host = runAgent(state, agentSetup(setup.bucket, pebbleRoot(state), state.nginx));
    assert.equal(host.code, 0, host.stdout);
    const previous = await statusOf(setup.bucket, domain);
    // Every try of the commit fails (3 commits of 8 tries each); the failed attempt recorded after it passes.
    const aws = await awsProxy([{ match: (request) => request.method === 'PUT' && request.path.includes(`/${domain}/status.json`), times: 24, fault: 'internal' }]);
    const harness = await harnessThrough({ aws }, { CERTIFICATES_BUCKET: setup.bucket });

    const failed = outcomeOf((await harness.run({ domains: [domain], force: true })).outcomes, domain);
    const torn = await statusOf(setup.bucket, domain);
    const newHost = runAgent(state, agentSetup(setup.bucket, pebbleRoot(state), { ...state.nginx, certsDir: join(tempDir('new-host'), 'certs') }));
    const repaired = outcomeOf((await setup.run()).outcomes, domain);
    const after = await statusOf(setup.bucket, domain);

    assert.ok(failed.outcome === 'failed' && failed.step === 'store', JSON.stringify(failed));
    assert.deepEqual([torn.serial, torn.files, torn.versions], [previous.serial, previous.files, previous.versions], 'status.json still commits to the previous pair');
    assert.deepEqual([torn.lastAttempt?.outcome, torn.lastAttempt?.step], ['failed', 'store']);
    assert.match(newHost.stdout, new RegExp(`installed ${domain.replace(/\./g, '\\.')}: serial ${previous.serial}`), 'a new host installs the previous pair, not a placeholder');
    assert.ok(repaired.outcome === 'repaired', JSON.stringify(repaired));
    assert.match(repaired.reason, /^status\.json describes serial [0-9a-f]+, not the stored certificate's serial [0-9a-f]+ \(a renewal stored its files but not its status\.json\)$/);
    assert.notEqual(after.serial, previous.serial, 'the repair commits the renewal\'s certificate, without a new order');
    assert.notDeepEqual(after.versions, previous.versions);
  });

  test('a renewal that wrote a new key and failed to write domain.crt is rolled back to the pair status.json commits to, without a new order', async () => {
    const setup = await renewHarness();
    const domain = await newDomain(setup.bucket, 'rollback');
    await setup.run();
    const committed = await statusOf(setup.bucket, domain);
    // The key is gone (a renewal makes a new one); every try to write domain.crt fails.
    await s3.send(new DeleteObjectCommand({ Bucket: setup.bucket, Key: `${domain}/domain.key` }));
    const aws = await awsProxy([{ match: (request) => request.method === 'PUT' && request.path.includes(`/${domain}/domain.crt`), times: 8, fault: 'internal' }]);
    const harness = await harnessThrough({ aws }, { CERTIFICATES_BUCKET: setup.bucket });

    const failed = outcomeOf((await harness.run()).outcomes, domain);
    const ca = await caProxy([]);
    const next = await harnessThrough({ ca }, { CERTIFICATES_BUCKET: setup.bucket });
    const rolledBack = outcomeOf((await next.run()).outcomes, domain);
    const after = await statusOf(setup.bucket, domain);

    assert.ok(failed.outcome === 'failed' && failed.step === 'store', JSON.stringify(failed));
    assert.ok(rolledBack.outcome === 'repaired', JSON.stringify(rolledBack));
    assert.match(rolledBack.reason, /^domain\.crt and domain\.key are not the pair status\.json commits to \(certificate public key does not match the domain key\): a renewal wrote them and failed before its commit$/);
    assert.deepEqual([after.serial, after.files['domain.crt'], after.files['domain.key']], [committed.serial, committed.files['domain.crt'], committed.files['domain.key']]);
    assert.equal(ca.log.filter((entry) => isPost(/^\/order-plz$/)(entry.request)).length, 0, 'no order');
    assert.equal(outcomeOf((await next.run()).outcomes, domain).outcome, 'not due', 'consistent again');
  });
});

describe('a clock off the CA\'s', () => {
  test('a run whose clock is 5 minutes behind the CA issues (within the allowance), says so, and does not order again', async () => {
    const behind = () => new Date(Date.now() - 5 * 60_000);
    const ca = await caProxy([]);
    const harness = await harnessThrough({ ca }, {}, { now: behind });
    const domain = await newDomain(harness.bucket, 'behind');

    const first = outcomeOf((await harness.run()).outcomes, domain);
    const again = await harnessThrough({ ca }, { CERTIFICATES_BUCKET: harness.bucket }, { now: behind });
    const second = outcomeOf((await again.run()).outcomes, domain);

    assert.equal(first.outcome, 'renewed', JSON.stringify(first));
    assert.ok(harness.logs.some((line) => /"this run's clock is 30\d s behind the CA's|"this run's clock is 5 min behind the CA's/.test(line)), 'the skew is logged');
    assert.equal(second.outcome, 'not due', JSON.stringify(second));
    assert.equal(ca.log.filter((entry) => isPost(/^\/order-plz$/)(entry.request) && entry.status === 201).length, 1, 'one order in all');
  });

  test('a run whose clock is 2 hours ahead of the CA places no order and fails, naming the skew', async () => {
    const ca = await caProxy([]);
    const harness = await harnessThrough({ ca }, {}, { now: () => new Date(Date.now() + 2 * 3_600_000) });
    const domain = await newDomain(harness.bucket, 'ahead');

    const report = await harness.run();

    assert.equal(outcomeOf(report.outcomes, domain).outcome, 'skipped');
    assert.match(report.stopped ?? '', /^clock: this run's clock is 2\.0 h ahead of the CA's \(its Date header: \S+\), more than the 60 min allowed \(CLOCK_SKEW_ALLOWANCE_SECONDS\): no order is placed with a clock this wrong$/);
    assert.equal(ca.log.filter((entry) => isPost(/^\/order-plz$/)(entry.request)).length, 0, 'no order placed');
  });

  test('a run with nothing due fails too when its clock is 2 hours off the CA\'s: the next due domain would meet it', async () => {
    const setup = await renewHarness();
    const domain = await newDomain(setup.bucket, 'idle');
    await setup.run();
    const harness = await harnessThrough({}, { CERTIFICATES_BUCKET: setup.bucket }, { now: () => new Date(Date.now() + 2 * 3_600_000) });

    const report = await harness.run();

    assert.equal(outcomeOf(report.outcomes, domain).outcome, 'not due');
    assert.match(report.stopped ?? '', /^clock: this run's clock is (2\.0 h|120 min) ahead of the CA's/);
  });
});
