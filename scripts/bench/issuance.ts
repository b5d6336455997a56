/**
 * The issuance bench (part of `npm run bench`, issue 12): the project's issuance side by side with
 * acme-tiny's (the fastest peer measured here), each on a Pebble of its own, both configured alike
 * (same behaviour, same DNS server, same proxy), the project's validating HTTP-01 at the replica's
 * nginx (which serves the challenge bucket) and acme-tiny's at an nginx serving its challenge
 * directory. Runs alternate, project then acme-tiny, BENCH_ROUNDS (3) rounds; each figure is the
 * median. The project runs in this process as the function runs it (scripts/bench/renewal-run.ts),
 * with the function's own defaults (CONCURRENCY, polling from 1 s; BENCH_POLL=replica uses the
 * replica's quick polling instead); acme-tiny runs as update.sh runs it, one process a domain, in
 * turn, each with its openssl key and CSR steps (scripts/bench/acme-tiny.ts). Certificates are for
 * d and www.d. Cases:
 *
 * - CPU-bound (Pebble with PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0): BENCH_CERTIFICATES (30)
 *   certificates with ECDSA P-256 domain keys, then with RSA-2048. Target: at most 0.5× acme-tiny.
 * - One certificate, whole process: a fresh node process that loads the built renew bundle
 *   (dist/renew/handler.js) and runs its handler once over a bucket of one domain (and exits when it
 *   returns), against one acme-tiny issuance (openssl key, CSR, acme-tiny). Target: at most 1.0×.
 *   Printed too: the time inside the handler.
 * - At 50 % nonce rejection (PEBBLE_WFE_NONCEREJECT=50, the project only): BENCH_CERTIFICATES ECDSA
 *   certificates, every one issued, in at most 1.3× the clean CPU-bound median of the same rounds.
 * - Latency-bound: BENCH_LATENCY_CERTIFICATES (20) ECDSA certificates through a delaying proxy in
 *   front of each Pebble (scripts/replica/fault-proxy.ts, `delayMs`): every request to the CA takes
 *   100 ms more, half each way: an assumed round trip to Let's Encrypt's API from an AWS region (tens
 *   of ms from the US, more from Europe or Asia), not a measured one. A new connection costs nothing
 *   more there (a real one costs a round trip for TCP and one or two for TLS), which flatters
 *   acme-tiny: it opens a connection for every request, the project keeps them open. Pebble validates
 *   with PEBBLE_VA_SLEEPTIME=3: per Pebble 2.4's va/va.go, each challenge gets three validation
 *   attempts at once, each after a random whole 0, 1 or 2 s, and is valid when all three are done
 *   (1.7 s on average, 2 s most often): seconds, as a real CA's validation from several places takes.
 *   The project at CONCURRENCY 4, 8 and 16 (and its default, if another). Target: at most 0.1×
 *   acme-tiny at the default concurrency.
 * - ACME requests per certificate of 2 names, counted at the latency-bound proxies (every request of
 *   either tool passes one), over the project's runs at the default concurrency and all of
 *   acme-tiny's, divided by the certificates issued; a run's directory and account requests are
 *   shared by its certificates. Target: at most 15 for the project; acme-tiny's printed beside it.
 *
 * Every run must issue every certificate. Runs about 20 minutes with the defaults, most of it
 * acme-tiny in the latency-bound mode (8 to 9 s a certificate). Returns true when a target is missed.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { readRenewConfig } from '../../functions/renew/config.js';
import { renewEnvironment } from '../replica/renew-env.js';
import type { ReplicaState } from '../replica/state.js';
import { requestsByKind, type RequestTally } from './acme-requests.js';
import { acmeTinyVersion, createAccountKey, issueWithAcmeTiny, serveChallengeDirectory, type TinyKeyType } from './acme-tiny.js';
import { runHandlerProcess } from './handler-process.js';
import { startBenchPebble, type BenchPebble, type BenchPebbleOptions } from './pebble-instance.js';
import { median, notRenewed, runDomains, runRenewal } from './renewal-run.js';

const CERTIFICATES = Number(process.env.BENCH_CERTIFICATES ?? 30);
const LATENCY_CERTIFICATES = Number(process.env.BENCH_LATENCY_CERTIFICATES ?? Math.min(20, CERTIFICATES));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DELAY_MS = 100;
const VALIDATION_SLEEP_SECONDS = 3;
const CONCURRENCIES = [4, 8, 16];
const TARGET = { cpuRatio: 0.5, processRatio: 1.0, latencyRatio: 0.1, requestsPerCertificate: 15, nonceRatio: 1.3 };
/** The function's own polling (config.ts's defaults: an empty variable is an unset one), unless BENCH_POLL=replica. */
const POLLING: Record<string, string> = process.env.BENCH_POLL === 'replica' ? {} : { ACME_POLL_MIN_MS: '', ACME_POLL_ISSUANCE_FIRST_MS: '', ACME_POLL_MAX_MS: '', ACME_POLL_ATTEMPTS: '' };

/** One run of either tool: how long, and how many of its certificates were issued. */
interface Issued {
  ms: number;
  issued: number;
  wanted: number;
  problem: string;
  /** What the proxy in front saw during the run (latency-bound runs only). */
  requests?: RequestTally;
}

type Row = [ok: boolean, name: string, figure: string, target: string];

/** Every run of a part, by name ("project …" or "acme-tiny …"), in round order. */
type Runs = Record<string, Issued[]>;

interface Setup {
  state: ReplicaState;
  root: string;
  work: string;
  accountKey: string;
  challengeDir: string;
  defaultConcurrency: number;
}

export async function issuanceBench(state: ReplicaState, root: string): Promise<boolean> {
  const version = (await acmeTinyVersion()).replace(/^\d+:/, '');
  const defaultConcurrency = readRenewConfig(renewEnvironment(state), rootCertificates).concurrency;
  console.log(`\n== issuance side by side with acme-tiny ${version} (interleaved, median of ${ROUNDS}; ${process.env.BENCH_POLL === 'replica' ? 'the replica\'s quick polling' : 'the function\'s default polling'}) ==`);
  const work = mkdtempSync(join(tmpdir(), 'bench-issuance-'));
  // What is running, each with its stop: stopped at the end, on failure, and on Ctrl-C.
  const running = new Set<() => Promise<void>>();
  const stop = async (stops: Iterable<() => Promise<void>>) => {
    for (const one of [...stops].reverse()) {
      running.delete(one);
      await one().catch((error: unknown) => console.warn(`issuance bench: stopping: ${(error as Error).message}`));
    }
  };
  const interrupted = () => void stop(running).finally(() => {
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  });
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const startPebbles = async <T extends string>(part: string, specs: Record<T, BenchPebbleOptions>): Promise<Record<T, BenchPebble>> => {
    const pebbles = {} as Record<T, BenchPebble>;
    for (const name of Object.keys(specs) as T[]) {
      const pebble = await startBenchPebble(join(work, `${part}-${name}`), state, specs[name]);
      running.add(pebble.stop);
      pebbles[name] = pebble;
    }
    return pebbles;
  };
  try {
    const accountKey = join(work, 'account.key');
    await createAccountKey(accountKey);
    const challenges = await serveChallengeDirectory(work);
    running.add(challenges.stop);
    const setup: Setup = { state, root, work, accountKey, challengeDir: challenges.challengeDir, defaultConcurrency };
    const clean = { behaviour: { nonceRejectPercent: 0 } };
    const cpu = await startPebbles('cpu', {
      project: { httpPort: state.nginx.httpPort, ...clean },
      tiny: { httpPort: challenges.httpPort, ...clean },
      nonces: { httpPort: state.nginx.httpPort, behaviour: { nonceRejectPercent: 50 } },
    });
    const cpuPart = await cpuBound(setup, cpu);
    await stop(Object.values(cpu).map((pebble) => pebble.stop));
    const latency = { behaviour: { nonceRejectPercent: 0, validationSleepSeconds: VALIDATION_SLEEP_SECONDS }, delayMs: DELAY_MS };
    const latencyPart = await latencyBound(setup, await startPebbles('latency', { project: { httpPort: state.nginx.httpPort, ...latency }, tiny: { httpPort: challenges.httpPort, ...latency } }));
    const rows = [...cpuPart.rows, ...latencyPart.rows, ...completeness({ ...cpuPart.runs, ...latencyPart.runs })];
    for (const [ok, name, figure, target] of rows) console.log(`${ok ? 'ok  ' : 'MISS'} ${name.padEnd(52)} ${target ? `${figure.padEnd(30)} ${target}` : figure}`);
    return rows.some(([ok]) => !ok);
  } finally {
    await stop(running);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    rmSync(work, { recursive: true, force: true });
  }
}

/** Returns a function that keeps a run under its name and prints it. */
function recorder(runs: Runs): (round: number, name: string, run: Issued) => void {
  return (round, name, run) => {
    (runs[name] ??= []).push(run);
    console.log(`  round ${round}  ${name.padEnd(34)} ${describe(run)}`);
  };
}

async function cpuBound(setup: Setup, pebbles: { project: BenchPebble; tiny: BenchPebble; nonces: BenchPebble }): Promise<{ rows: Row[]; runs: Runs }> {
  console.log(`  CPU-bound: Pebble validating at full speed, no nonce rejected; ${CERTIFICATES} certificates a run; the project at CONCURRENCY ${setup.defaultConcurrency} (its default)`);
  const runs: Runs = {};
  const record = recorder(runs);
  const handlerMs: number[] = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    record(round, 'project ECDSA', await projectRun(setup, pebbles.project, CERTIFICATES, 'ecdsa-p256'));
    record(round, 'acme-tiny ECDSA', await tinyRun(setup, pebbles.tiny, CERTIFICATES, 'ecdsa-p256'));
    record(round, 'project RSA-2048', await projectRun(setup, pebbles.project, CERTIFICATES, 'rsa-2048'));
    record(round, 'acme-tiny RSA-2048', await tinyRun(setup, pebbles.tiny, CERTIFICATES, 'rsa-2048'));
    record(round, 'project ECDSA, 50 % nonces bad', await projectRun(setup, pebbles.nonces, CERTIFICATES, 'ecdsa-p256'));
    const single = await runHandlerProcess(setup.state, setup.root, projectEnvironment(pebbles.project), pebbles.project.apiCaFile);
    handlerMs.push(single.handlerMs);
    record(round, 'project, 1, whole process', { ms: single.wholeMs, issued: single.renewed, wanted: 1, problem: single.problem });
    record(round, 'acme-tiny, 1, whole process', await tinyRun(setup, pebbles.tiny, 1, 'ecdsa-p256'));
  }
  const ms = (name: string) => median((runs[name] ?? []).map((run) => run.ms));
  const cleanMs = ms('project ECDSA');
  const nonceMs = ms('project ECDSA, 50 % nonces bad');
  const rows: Row[] = [
    comparison(`${CERTIFICATES} ECDSA P-256, CPU-bound, CONCURRENCY ${setup.defaultConcurrency}`, cleanMs, ms('acme-tiny ECDSA'), TARGET.cpuRatio),
    comparison(`${CERTIFICATES} RSA-2048, CPU-bound`, ms('project RSA-2048'), ms('acme-tiny RSA-2048'), TARGET.cpuRatio),
    comparison('1 certificate, whole process', ms('project, 1, whole process'), ms('acme-tiny, 1, whole process'), TARGET.processRatio),
    [true, '  of it in the handler (project)', seconds(median(handlerMs)), '(shown)'],
    [nonceMs <= TARGET.nonceRatio * cleanMs, `${CERTIFICATES} ECDSA at 50 % nonce rejection (project)`, `${seconds(nonceMs)} = ${(nonceMs / cleanMs).toFixed(2)}× clean`, `target ≤ ${TARGET.nonceRatio.toFixed(2)}× the clean ${seconds(cleanMs)}`],
  ];
  return { rows, runs };
}

async function latencyBound(setup: Setup, pebbles: { project: BenchPebble; tiny: BenchPebble }): Promise<{ rows: Row[]; runs: Runs }> {
  console.log(`  latency-bound: ${DELAY_MS} ms more for every CA request, Pebble's validation sleeping 0 to ${VALIDATION_SLEEP_SECONDS - 1} s; ${LATENCY_CERTIFICATES} ECDSA certificates a run`);
  const concurrencies = [...new Set([...CONCURRENCIES, setup.defaultConcurrency])].sort((a, b) => a - b);
  const runs: Runs = {};
  const record = recorder(runs);
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const concurrency of concurrencies) {
      record(round, `project latency, CONCURRENCY ${concurrency}`, await counted(pebbles.project, () => projectRun(setup, pebbles.project, LATENCY_CERTIFICATES, 'ecdsa-p256', { CONCURRENCY: String(concurrency) })));
    }
    record(round, 'acme-tiny latency', await counted(pebbles.tiny, () => tinyRun(setup, pebbles.tiny, LATENCY_CERTIFICATES, 'ecdsa-p256')));
  }
  const tinyMs = median((runs['acme-tiny latency'] ?? []).map((run) => run.ms));
  const rows: Row[] = concurrencies.map((concurrency) => {
    const isDefault = concurrency === setup.defaultConcurrency;
    const row = comparison(`${LATENCY_CERTIFICATES} ECDSA, latency-bound, CONCURRENCY ${concurrency}${isDefault ? ' (default)' : ''}`, median((runs[`project latency, CONCURRENCY ${concurrency}`] ?? []).map((run) => run.ms)), tinyMs, TARGET.latencyRatio);
    return isDefault ? row : [true, row[1], row[2], '(shown)'];
  });
  const project = perCertificate(runs[`project latency, CONCURRENCY ${setup.defaultConcurrency}`] ?? []);
  const tiny = perCertificate(runs['acme-tiny latency'] ?? []);
  rows.push([project.total <= TARGET.requestsPerCertificate, 'ACME requests per certificate (2 names)', `${project.total.toFixed(1)} vs ${tiny.total.toFixed(1)}`, `target ≤ ${TARGET.requestsPerCertificate} (project)`]);
  rows.push([true, '  project\'s', project.detail, '']);
  rows.push([true, '  acme-tiny\'s', tiny.detail, '']);
  return { rows, runs };
}

/** Runs `run` and adds what the proxy in front of `pebble` saw meanwhile. */
async function counted(pebble: BenchPebble, run: () => Promise<Issued>): Promise<Issued> {
  const proxy = pebble.proxy as NonNullable<BenchPebble['proxy']>;
  const [before, connections] = [proxy.log.length, proxy.counts.connections];
  const issued = await run();
  return { ...issued, requests: requestsByKind(proxy.log.slice(before).map((entry) => entry.request), proxy.counts.connections - connections) };
}

/** The requests of `runs` per certificate issued: the total, and a line by kind. */
function perCertificate(runs: readonly Issued[]): { total: number; detail: string } {
  const issued = runs.reduce((sum, run) => sum + run.issued, 0) || 1;
  const sums = new Map<string, number>();
  for (const run of runs) for (const [kind, n] of Object.entries(run.requests?.byKind ?? {})) sums.set(kind, (sums.get(kind) ?? 0) + n);
  const connections = runs.reduce((sum, run) => sum + (run.requests?.connections ?? 0), 0);
  const total = [...sums.values()].reduce((sum, n) => sum + n, 0) / issued;
  const kinds = [...sums].filter(([, n]) => n > 0).map(([kind, n]) => `${kind} ${(n / issued).toFixed(1)}`);
  return { total, detail: `${kinds.join(', ')}; ${(connections / issued).toFixed(1)} connections` };
}

async function projectRun(setup: Setup, pebble: BenchPebble, count: number, keyType: TinyKeyType, environment: Record<string, string> = {}): Promise<Issued> {
  // The key type is each domain's config.json's (core/domain-config.ts); the function has no default of its own for it.
  const { ms, report } = await trusting(pebble, () => runRenewal(setup.state, { domains: runDomains(count), domainConfig: { keyType }, environment: { ...projectEnvironment(pebble), ...environment } }));
  return { ms, issued: report.counts.renewed, wanted: count, problem: notRenewed(report) };
}

/**
 * Runs `run` with this process's HTTPS requests trusting Pebble's API CA (and the system's roots):
 * the trust store was read at the process's start, so the CA goes into the global agent, whose
 * options outrank each request's own `ca`: only while the project runs.
 */
async function trusting<T>(pebble: BenchPebble, run: () => Promise<T>): Promise<T> {
  const options = https.globalAgent.options;
  const had = 'ca' in options;
  const before = options.ca;
  options.ca = [...rootCertificates, pebble.apiCaPem];
  try {
    return await run();
  } finally {
    // Deleted, not set to undefined: an undefined `ca` of the agent's would still outrank a request's.
    if (had) options.ca = before;
    else delete options.ca;
  }
}

function projectEnvironment(pebble: BenchPebble): Record<string, string> {
  return { ...POLLING, ACME_DIRECTORY_URL: pebble.directoryUrl, TRUSTED_ROOTS_PEM: pebble.rootsPem };
}

/** acme-tiny for `count` fresh domains, one after the other; `ms` is the sum of their issuances. */
async function tinyRun(setup: Setup, pebble: BenchPebble, count: number, keyType: TinyKeyType): Promise<Issued> {
  const label = randomBytes(4).toString('hex');
  const problems: string[] = [];
  let [ms, issued] = [0, 0];
  for (const domain of runDomains(count, label)) {
    const result = await issueWithAcmeTiny({ domain, keyType, dir: join(setup.work, 'tiny', label, domain), accountKey: setup.accountKey, challengeDir: setup.challengeDir, directoryUrl: pebble.directoryUrl, apiCaFile: pebble.apiCaFile });
    ms += result.ms;
    if (result.ok) issued += 1;
    else problems.push(result.problem ?? domain);
  }
  rmSync(join(setup.work, 'tiny', label), { recursive: true, force: true });
  return { ms, issued, wanted: count, problem: problems.length ? `not issued: ${problems.slice(0, 3).join(' | ')}` : '' };
}

function comparison(name: string, projectMs: number, tinyMs: number, target: number): Row {
  const ratio = projectMs / tinyMs;
  return [ratio <= target, name, `${seconds(projectMs)} vs ${seconds(tinyMs)} = ${ratio.toFixed(2)}×`, `target ≤ ${target.toFixed(2)}× acme-tiny`];
}

/** One row per tool: did every run issue every certificate (a run that did not measured other work)? */
function completeness(runs: Runs): Row[] {
  return (['project', 'acme-tiny'] as const).map((tool) => {
    const mine = Object.entries(runs).filter(([name]) => name.startsWith(`${tool} `)).flatMap(([, list]) => list);
    const wanted = mine.reduce((sum, run) => sum + run.wanted, 0);
    const issued = mine.reduce((sum, run) => sum + run.issued, 0);
    return [issued === wanted, `certificates issued, every run above (${tool})`, `${issued} of ${wanted}`, 'target all'];
  });
}

function describe(run: Issued): string {
  const requests = run.requests ? `, ${Object.values(run.requests.byKind).reduce((sum, n) => sum + n, 0)} CA requests` : '';
  return `${run.issued}/${run.wanted} in ${seconds(run.ms)}${requests}${run.problem ? `; ${run.problem}` : ''}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
