/**
 * How many requests a certificate costs the CA, counted by a proxy in front of the replica's Pebble
 * that lets everything through (scripts/replica/fault-proxy.ts with no rules).
 *
 * Each answer's Replay-Nonce signs the next request (adapters/acme-retry.ts), so newNonce is asked
 * only while the kept nonces run short; and one poll of the order waits for every name's
 * validation (adapters/acme-issuer.ts). The replica's Pebble rejects half the nonces on purpose
 * (PEBBLE_WFE_NONCEREJECT=50): those rejections, each answered with a fresh nonce and signed again
 * at once, are counted apart from the requests the protocol needs.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../../scripts/replica/fault-proxy.js';
import { addDomainFolder, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness } from '../helpers/renew-harness.js';

const state = replicaState();
const s3 = s3Client(state);
const proxies: FaultProxy[] = [];
after(async () => {
  for (const proxy of proxies) await proxy.close();
});

const CERTIFICATES = 6;
const CONCURRENCY = 3;

test(`${CERTIFICATES} certificates of 2 names each cost the CA at most 15 requests each, with newNonce asked only while the kept nonces run short`, async () => {
  const pebble = dirname(state.acme.apiCaFile);
  const ca = await startFaultProxy({
    target: new URL(state.acme.directoryUrl).origin,
    tls: { cert: readFileSync(join(pebble, 'api-server.pem')), key: readFileSync(join(pebble, 'api-server.key')), ca: readFileSync(state.acme.apiCaFile) },
    rules: [],
  });
  proxies.push(ca);
  const harness = await renewHarness({ ACME_DIRECTORY_URL: `${ca.url}/dir`, AWS_ENDPOINT_URL: state.awsEndpoint, CONCURRENCY: String(CONCURRENCY) }, { productClients: true });
  const domains: string[] = [];
  for (let i = 0; i < CERTIFICATES; i += 1) {
    const domain = `${uniqueLabel('requests')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    domains.push(domain);
  }

  const report = await harness.run();

  assert.deepEqual(report.outcomes.map((outcome) => outcome.outcome), domains.map(() => 'renewed'), JSON.stringify(report.outcomes));
  const rejectedNonces = ca.log.filter((entry) => entry.status === 400).length;
  const needed = ca.log.length - rejectedNonces;
  const newNonces = ca.log.filter((entry) => entry.request.method === 'HEAD' && entry.request.path === '/nonce-plz').length;
  assert.ok(needed / CERTIFICATES <= 15, `${needed} requests for ${CERTIFICATES} certificates (${(needed / CERTIFICATES).toFixed(1)} each), besides ${rejectedNonces} nonces Pebble rejected on purpose`);
  // At most as many as requests were ever in flight at once: a domain sends its two authorization
  // reads, then its two challenge answers, together; and the account lookup before them all.
  assert.ok(newNonces <= 2 * CONCURRENCY + 1, `newNonce was asked ${newNonces} times: each answer's nonce should sign the next request`);
  const nonces = ca.log.flatMap((entry) => (entry.nonce ? [entry.nonce] : []));
  assert.equal(new Set(nonces).size, nonces.length, 'a nonce was sent twice');
});
