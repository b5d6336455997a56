/**
 * The fault bench (part of `npm run bench`): 30 certificates in one renewal run, as the renew
 * function runs it (its SDK clients with adaptive retries, its ACME retries, its default concurrency), on
 * the replica's Pebble and moto. Clean runs and faulted runs alternate (clean, faulted, three times
 * each), each on a fresh bucket; the faulted runs reach Pebble and moto through fault proxies that
 * answer a fifth of the CA's requests 503 with Retry-After: 1 and a fifth of S3's SlowDown.
 *
 * Targets: every faulted run issues 30 of 30; the faulted median fits a Lambda invocation (900 s
 * less the two minutes kept back). Printed: both medians and their ratio.
 */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startFaultProxy, type FaultProxy } from '../replica/fault-proxy.js';
import type { ReplicaState } from '../replica/state.js';
import { median, notRenewed, runDomains, runRenewal } from './renewal-run.js';

const CERTIFICATES = Number(process.env.BENCH_CERTIFICATES ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SHARE = 0.2;
const LAMBDA_BUDGET_MS = 900_000 - 120_000;

interface RunResult {
  ms: number;
  renewed: number;
  caFaults: number;
  s3Faults: number;
  awsTriesLogged: number;
  acmeRetriesLogged: number;
}

/** Returns true when a target was missed. */
export async function faultBench(state: ReplicaState): Promise<boolean> {
  console.log(`\n== ${CERTIFICATES} certificates in one run: clean, and with ${SHARE * 100}% of CA requests 503 and ${SHARE * 100}% of S3 requests SlowDown (interleaved, ${ROUNDS} each) ==`);
  const pebble = dirname(state.acme.apiCaFile);
  const clean: RunResult[] = [];
  const faulted: RunResult[] = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    clean.push(await renewRun(state, null));
    console.log(`  round ${round} clean:   ${describe(clean.at(-1) as RunResult)}`);
    const ca = await startFaultProxy({
      target: new URL(state.acme.directoryUrl).origin,
      tls: { cert: readFileSync(join(pebble, 'api-server.pem')), key: readFileSync(join(pebble, 'api-server.key')), ca: readFileSync(state.acme.apiCaFile) },
      rules: [{ share: SHARE, fault: 'server-error', retryAfterSeconds: 1 }],
      seed: round,
    });
    const aws = await startFaultProxy({ target: state.awsEndpoint, rules: [{ match: (request) => request.service === 's3', share: SHARE, fault: 'slowdown' }], seed: 100 + round });
    try {
      faulted.push(await renewRun(state, { ca, aws }));
    } finally {
      await ca.close();
      await aws.close();
    }
    console.log(`  round ${round} faulted: ${describe(faulted.at(-1) as RunResult)}`);
  }
  const cleanMs = median(clean.map((run) => run.ms));
  const faultedMs = median(faulted.map((run) => run.ms));
  const allIssued = faulted.every((run) => run.renewed === CERTIFICATES) && clean.every((run) => run.renewed === CERTIFICATES);
  const rows: [boolean, string, string, string][] = [
    [allIssued, 'certificates issued per run', `${Math.min(...faulted.map((run) => run.renewed))} of ${CERTIFICATES} (faulted, least)`, `target ${CERTIFICATES} of ${CERTIFICATES} in every run`],
    [true, 'clean run, median', `${(cleanMs / 1000).toFixed(1)} s`, '(shown)'],
    [faultedMs <= LAMBDA_BUDGET_MS, 'faulted run, median', `${(faultedMs / 1000).toFixed(1)} s`, `target ≤ ${LAMBDA_BUDGET_MS / 1000} s (one invocation, less 2 min kept back)`],
    [true, 'faulted / clean', `${(faultedMs / cleanMs).toFixed(2)}×`, '(shown)'],
  ];
  for (const [ok, name, value, target] of rows) console.log(`${ok ? 'ok  ' : 'MISS'} ${name.padEnd(30)} ${value.padStart(26)}  ${target}`);
  return rows.some(([ok]) => !ok);
}

async function renewRun(state: ReplicaState, proxies: { ca: FaultProxy; aws: FaultProxy } | null): Promise<RunResult> {
  const environment = {
    AWS_ENDPOINT_URL: proxies?.aws.url ?? state.awsEndpoint,
    ...(proxies ? { ACME_DIRECTORY_URL: `${proxies.ca.url}/dir` } : {}),
  };
  const { ms, report, lines } = await runRenewal(state, { domains: runDomains(CERTIFICATES), environment });
  const failures = notRenewed(report);
  if (failures) console.log(`    ${failures}`);
  return {
    ms,
    renewed: report.counts.renewed,
    caFaults: proxies?.ca.counts.faulted['server-error'] ?? 0,
    s3Faults: proxies?.aws.counts.faulted.slowdown ?? 0,
    awsTriesLogged: lines.filter((line) => line.includes('"an AWS request failed')).length,
    acmeRetriesLogged: lines.filter((line) => line.includes('"retrying a request to the CA"')).length,
  };
}

function describe(run: RunResult): string {
  return `${run.renewed}/${CERTIFICATES} renewed in ${(run.ms / 1000).toFixed(1)} s${run.caFaults + run.s3Faults > 0 ? `; ${run.caFaults} CA 503s (${run.acmeRetriesLogged} retries logged), ${run.s3Faults} SlowDowns (${run.awsTriesLogged} failed tries logged)` : ''}`;
}
