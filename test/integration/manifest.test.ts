/**
 * The bucket manifest on the replica: the renew function (and acme-certs add and remove) keeps it
 * current with conditional writes; the agent, run as a real process, reads it with one conditional
 * GET, lists the bucket when it must, and verifies whatever it reads as after a listing. Requests
 * are counted through the fault proxy (scripts/replica/fault-proxy.ts) in front of moto, with no
 * fault, or with one a test names.
 */

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFaultProxy, type FaultProxy, type FaultRule } from '../../scripts/replica/fault-proxy.js';
import { writeSite } from '../../scripts/replica/sites.js';
import { S3CertificateStore } from '../../functions/adapters/s3-certificate-store.js';
import { S3ConditionalObject } from '../../functions/adapters/s3-conditional-object.js';
import { MANIFEST_KEY } from '../../functions/core/layout.js';
import { buildBucketView, parseManifest, sameView, type Manifest } from '../../functions/core/manifest.js';
import { addDomain, removeDomain } from '../../functions/workflows/operate.js';
import { publishManifest } from '../../functions/workflows/publish-manifest.js';
import type { ConditionalObject } from '../../functions/workflows/ports.js';
import { chainPem, issue, newKey } from '../helpers/pki.js';
import { addDomainFolder, createCertificatesBucket, getText, pebbleRoot, putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness } from '../helpers/renew-harness.js';
import { agentSetup, ensureAgentBuilt, plantPair, runAgent, runAgentAsync, servedCertificate, writeManifest, type AgentSetup } from '../helpers/sync-harness.js';
import { startTestNginx } from '../helpers/test-nginx.js';

const state = replicaState();
const s3 = s3Client(state);
const DAY = 86_400_000;
const proxies: FaultProxy[] = [];
const sites: string[] = [];

before(() => ensureAgentBuilt());
after(async () => {
  for (const proxy of proxies) await proxy.close();
  for (const site of sites) rmSync(site, { force: true });
});

/** A proxy in front of moto that passes every request (but those `rules` fault) and logs it. */
async function awsProxy(rules: FaultRule[] = []): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ target: state.awsEndpoint, rules });
  proxies.push(proxy);
  return proxy;
}

/** The S3 requests a proxy saw since `from`, as "METHOD key STATUS" (a listing is "GET ?list-type=2"). */
function s3Requests(proxy: FaultProxy, bucket: string, from = 0): string[] {
  return proxy.log.slice(from).filter((entry) => entry.request.service === 's3').map((entry) => {
    const [path = '', query = ''] = entry.request.path.split('?');
    const key = decodeURIComponent(path.slice(`/${bucket}/`.length));
    return `${entry.request.method} ${key || `?${query.split('&').filter((part) => part.startsWith('list-type')).join('&')}`} ${entry.status ?? '-'}`;
  });
}

/** Runs the agent as a real process with its requests through `proxy`. */
function agentThrough(proxy: FaultProxy, setup: AgentSetup, extra: string[] = []) {
  return runAgentAsync(state, setup, ['--endpoint', proxy.url, ...extra]);
}

async function storedManifest(bucket: string): Promise<Manifest | null> {
  const text = await getText(s3, bucket, MANIFEST_KEY);
  if (text === null) return null;
  const parsed = parseManifest(text);
  assert.ok('manifest' in parsed, `the stored manifest reads back: ${JSON.stringify(parsed)}`);
  return parsed.manifest;
}

let ca: ReturnType<typeof issue> | undefined;
function testCa() {
  ca ??= issue({ commonName: 'Manifest Test Root', ca: true, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() + 400 * DAY), key: newKey() });
  return ca;
}

/** Plants a pair from the test CA issued `round` minutes after the first, as an upload by hand would; returns its serial. */
async function plantByHand(bucket: string, domain: string, round: number): Promise<string> {
  const key = newKey();
  const leaf = issue({ commonName: domain, names: [domain], ca: false, notBefore: new Date(Date.now() - DAY + round * 60_000), notAfter: new Date(Date.now() + 60 * DAY), key, issuer: testCa() });
  await plantPair(state, bucket, domain, chainPem(leaf), key.pem);
  return new X509Certificate(leaf.pem).serialNumber.toLowerCase();
}

function installedSerial(certsDir: string, domain: string): string {
  return new X509Certificate(readFileSync(join(certsDir, domain, 'domain.crt'))).serialNumber.toLowerCase();
}


describe('the renew function keeps the manifest', () => {
  test('a renewal run writes the manifest of what it left; a run with nothing due reads it once, finds it current and writes nothing', async () => {
    const harness = await renewHarness();
    const domains = [`${uniqueLabel('mf')}.test`, `${uniqueLabel('mf')}.test`];
    for (const domain of domains) await addDomainFolder(s3, harness.bucket, domain);
    await harness.run();
    const written = await storedManifest(harness.bucket);
    const calls: string[] = [];
    const manifest = harness.context.manifest as ConditionalObject;
    harness.context.manifest = { read: () => (calls.push('read'), manifest.read()), writeIfMatch: (text, etag) => (calls.push('write'), manifest.writeIfMatch(text, etag)) };

    const idle = await harness.run();

    assert.ok(written, 'the run wrote a manifest');
    assert.ok(sameView(written, buildBucketView(await new S3CertificateStore(s3, harness.bucket).listObjects())), 'it shows the bucket as it is after the run');
    for (const domain of domains) {
      const folder = written.folders.find((item) => item.folder === domain);
      assert.ok(folder?.status && folder.etags['domain.crt'] && folder.etags['domain.key'], `${domain}: its committed pair`);
    }
    assert.deepEqual(idle.outcomes.map((outcome) => outcome.outcome), ['not due', 'not due']);
    assert.deepEqual(calls, ['read'], 'one read, no write');
    assert.deepEqual(idle.problems, []);
  });

  test('of two runs ending together, the one whose write comes second reads and lists again: a newer manifest is never replaced by an older listing', async () => {
    const bucket = await createCertificatesBucket(s3);
    const [first, second] = [`${uniqueLabel('race')}.test`, `${uniqueLabel('race')}.test`];
    await addDomainFolder(s3, bucket, first);
    const store = new S3CertificateStore(s3, bucket);
    const stale = await store.listObjects();
    const real = new S3ConditionalObject(s3, bucket, MANIFEST_KEY);
    // The other run lands between this run's read and its write: a folder is added and a manifest
    // of it written, by the real workflow (forcing the interleaving is the only thing staged here).
    let raced = false;
    const racing: ConditionalObject = {
      read: () => real.read(),
      writeIfMatch: async (text, etag) => {
        if (!raced) {
          raced = true;
          await addDomainFolder(s3, bucket, second);
          await writeManifest(state, bucket);
        }
        return real.writeIfMatch(text, etag);
      },
    };
    const logs: string[] = [];

    const problem = await publishManifest({ store, manifest: racing, log: (_level, message) => logs.push(message), now: () => new Date() }, null);

    assert.equal(problem, null);
    assert.ok(logs.includes('another run wrote the bucket manifest first; reading it and listing the bucket again'));
    assert.deepEqual((await storedManifest(bucket))?.folders.map((folder) => folder.folder).sort(), [first, second].sort(), 'the newer folder is in it');
    assert.ok(!sameView((await storedManifest(bucket)) as Manifest, buildBucketView(stale)));
  });

  test('a manifest that cannot be written is the run\'s problem, reported and failing the run, while its renewal stands; the next run writes it', async () => {
    const proxy = await awsProxy([{ match: (request) => request.method === 'PUT' && request.path.includes(`/${MANIFEST_KEY}`), times: 8, fault: 'internal' }]);
    const harness = await renewHarness({ AWS_ENDPOINT_URL: proxy.url }, { productClients: true });
    const domain = `${uniqueLabel('mfail')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);

    const report = await harness.run();
    const next = await harness.run();

    assert.equal(report.outcomes[0]?.outcome, 'renewed', JSON.stringify(report.outcomes));
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0] as string, new RegExp(`writing the bucket manifest: writing s3://${harness.bucket}/\\.manifest\\.json: InternalError`));
    assert.ok(harness.logs.some((line) => line.includes('"could not write the bucket manifest"') && line.includes('"step":"manifest"')));
    assert.equal(next.outcomes[0]?.outcome, 'not due');
    assert.deepEqual(next.problems, []);
    assert.ok((await storedManifest(harness.bucket))?.folders.some((folder) => folder.folder === domain && folder.status), 'written by the next run');
  });

  test('acme-certs add and remove bring the manifest up to date, so hosts see the folder at their next run', async () => {
    const bucket = await createCertificatesBucket(s3);
    const store = new S3CertificateStore(s3, bucket);
    const ctx = { store, manifest: new S3ConditionalObject(s3, bucket, MANIFEST_KEY), log: () => undefined, now: () => new Date() };
    const domain = `${uniqueLabel('added')}.test`;

    const added = await addDomain(ctx, { domain, names: [], keyType: null, profile: null, reuseKey: false });
    const afterAdd = await storedManifest(bucket);
    const removed = await removeDomain({ ...ctx, runId: 'test', lockTtlMs: 60_000 }, domain, new Date());
    const afterRemove = await storedManifest(bucket);

    assert.equal(added.manifestProblem, null);
    assert.deepEqual(afterAdd?.folders, [{ folder: domain, etags: {}, status: false }]);
    assert.equal(removed.manifestProblem, null);
    assert.deepEqual(afterRemove?.folders, []);
  });
});

describe('the agent reads the manifest', () => {
  test('with nothing changed, a run reads one object: the manifest, answered 304; a renewal then reaches the host through the manifest', async () => {
    const harness = await renewHarness();
    const domain = `${uniqueLabel('mfrun')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    sites.push(writeSite(state.nginx, domain));
    await harness.run();
    const setup = agentSetup(harness.bucket, pebbleRoot(state), state.nginx);
    const first = runAgent(state, setup);
    const proxy = await awsProxy();

    const quiet = await agentThrough(proxy, setup);
    const quietRequests = s3Requests(proxy, harness.bucket);
    const renewal = await harness.run({ domains: [domain], force: true });
    const serial = (JSON.parse((await getText(s3, harness.bucket, `${domain}/status.json`)) ?? '{}') as { serial: string }).serial;
    const mark = proxy.log.length;
    const renewed = await agentThrough(proxy, setup);

    assert.equal(first.code, 0, first.stdout);
    assert.match(first.stdout, new RegExp(`installed ${domain}`));
    assert.deepEqual(quiet, { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(quietRequests.filter((request) => !request.startsWith('PUT .host-report.')), ['GET .manifest.json 304'], 'no listing, no other read');
    assert.equal(quietRequests.length, 2, 'and the host\'s report');
    assert.equal(renewal.outcomes[0]?.outcome, 'renewed');
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    assert.match(renewed.stdout, new RegExp(`installed ${domain}: serial ${serial}`));
    const reads = s3Requests(proxy, harness.bucket, mark).filter((request) => request.startsWith('GET'));
    assert.deepEqual(reads.map((request) => request.replace(/ \d+$/, '')).sort(), ['GET .manifest.json', `GET ${domain}/domain.crt`, `GET ${domain}/domain.key`, `GET ${domain}/status.json`].sort(), 'the manifest, then the renewed folder\'s files; no listing');
    assert.equal((await servedCertificate(state.nginx.httpsPort, domain)).serialNumber.toLowerCase(), serial);
  });

  test('an upload by hand, outside the renew function, reaches the host at its next full listing, verified as ever', async (t) => {
    const nginx = await startTestNginx(t, state);
    const bucket = await createCertificatesBucket(s3);
    const domain = `${uniqueLabel('byhand')}.test`;
    nginx.addSite(domain);
    const setup = agentSetup(bucket, testCa().pem, nginx);
    const planted = await plantByHand(bucket, domain, 0);
    await writeManifest(state, bucket);
    const first = runAgent(state, setup);
    const uploaded = await plantByHand(bucket, domain, 1);
    const proxy = await awsProxy();

    const beforeListing = await agentThrough(proxy, setup, ['--full-listing-every', '1h']);
    const installedBefore = installedSerial(nginx.certsDir, domain);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const mark = proxy.log.length;
    const listing = await agentThrough(proxy, setup, ['--full-listing-every', '1s']);

    assert.equal(first.code, 0, first.stdout);
    assert.match(first.stdout, new RegExp(`installed ${domain}: serial ${planted}`), 'a new state file: the first run lists the bucket');
    assert.deepEqual(beforeListing, { code: 0, stdout: '', stderr: '' }, 'within the period, the unchanged manifest says nothing changed');
    assert.equal(installedBefore, planted);
    assert.equal(listing.code, 0, listing.stdout + listing.stderr);
    assert.match(listing.stdout, new RegExp(`installed ${domain}: serial ${uploaded}`));
    assert.ok(s3Requests(proxy, bucket, mark).includes('GET ?list-type=2 200'), 'a full listing');
    assert.equal(installedSerial(nginx.certsDir, domain), uploaded);
  });

  test('a manifest the bucket has moved on from (a pair replaced by hand since) fails one run, and the next lists the bucket', async (t) => {
    const nginx = await startTestNginx(t, state);
    const bucket = await createCertificatesBucket(s3);
    const domain = `${uniqueLabel('moved')}.test`;
    nginx.addSite(domain);
    const setup = agentSetup(bucket, testCa().pem, nginx);
    await plantByHand(bucket, domain, 0);
    await writeManifest(state, bucket);
    runAgent(state, setup);
    await plantByHand(bucket, domain, 1);
    await writeManifest(state, bucket);
    // Its status.json pins no versions: the pair is read by the ETags the manifest names, which are gone.
    const latest = await plantByHand(bucket, domain, 2);
    const proxy = await awsProxy();

    const stale = await agentThrough(proxy, setup);
    const mark = proxy.log.length;
    const next = await agentThrough(proxy, setup);

    assert.equal(stale.code, 1);
    assert.match(stale.stdout, new RegExp(`FAILED ${domain.replace(/\./g, '\\.')}: reading the bucket's pair: .* changed while syncing`));
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.ok(s3Requests(proxy, bucket, mark).includes('GET ?list-type=2 200'), 'the next run lists the bucket');
    assert.match(next.stdout, new RegExp(`installed ${domain}: serial ${latest}`));
    assert.equal(installedSerial(nginx.certsDir, domain), latest);
  });

  test('with no manifest, or one that cannot be read, the agent says so once and lists the bucket every run', async (t) => {
    const nginx = await startTestNginx(t, state);
    const bucket = await createCertificatesBucket(s3);
    const domain = `${uniqueLabel('nomf')}.test`;
    nginx.addSite(domain);
    const setup = agentSetup(bucket, testCa().pem, nginx);
    await plantByHand(bucket, domain, 0);
    const proxy = await awsProxy();

    const first = await agentThrough(proxy, setup);
    const mark = proxy.log.length;
    const second = await agentThrough(proxy, setup);
    const secondRequests = s3Requests(proxy, bucket, mark);
    await putText(s3, bucket, MANIFEST_KEY, '{"format":"acme-certificates/manifest","version":1,"folders":[');
    const corrupt = await agentThrough(proxy, setup);
    const uploaded = await plantByHand(bucket, domain, 1);
    const stillCorrupt = await agentThrough(proxy, setup);

    assert.equal(first.code, 0, first.stdout);
    assert.match(first.stdout, /NOTICE the bucket has no manifest \(\.manifest\.json/);
    assert.deepEqual(second, { code: 0, stdout: '', stderr: '' }, 'said once');
    assert.deepEqual(secondRequests.filter((request) => !request.startsWith('PUT .host-report.')), ['GET .manifest.json 404', 'GET ?list-type=2 200'], 'the manifest asked for, then the listing');
    assert.equal(corrupt.code, 0, corrupt.stdout);
    assert.match(corrupt.stdout, /NOTICE \.manifest\.json cannot be used \(not JSON\): this host lists the bucket in full every run/);
    assert.equal(stillCorrupt.code, 0, stillCorrupt.stdout);
    assert.match(stillCorrupt.stdout, new RegExp(`installed ${domain}: serial ${uploaded}`), 'the listing shows what changed');
    assert.doesNotMatch(stillCorrupt.stdout, /NOTICE/, 'the same problem is not told again');
    assert.equal(installedSerial(nginx.certsDir, domain), uploaded);
  });

  test('--prune and --domains list the bucket, whatever the manifest says', async (t) => {
    const nginx = await startTestNginx(t, state);
    const bucket = await createCertificatesBucket(s3);
    const [kept, other] = [`${uniqueLabel('kept')}.test`, `${uniqueLabel('other')}.test`];
    for (const domain of [kept, other]) {
      nginx.addSite(domain);
      await plantByHand(bucket, domain, 0);
    }
    await writeManifest(state, bucket);
    const setup = agentSetup(bucket, testCa().pem, nginx);
    runAgent(state, setup);
    const proxy = await awsProxy();

    const pruning = await agentThrough(proxy, setup, ['--prune']);
    const pruningRequests = s3Requests(proxy, bucket);
    const mark = proxy.log.length;
    const some = await agentThrough(proxy, setup, ['--domains', kept]);

    assert.equal(pruning.code, 0, pruning.stdout);
    assert.ok(pruningRequests.includes('GET ?list-type=2 200'), `--prune lists: ${pruningRequests.join(', ')}`);
    assert.equal(some.code, 0, some.stdout);
    assert.deepEqual(s3Requests(proxy, bucket, mark).filter((request) => request.startsWith('GET')), ['GET ?list-type=2 200'], '--domains lists its folders by prefix, and does not read the manifest (a scoped host policy does not cover it)');
  });
});
