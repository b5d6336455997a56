/**
 * The fan-out bench (part of `npm run bench`, issue 13): 1000 due domains (BENCH_FANOUT_DOMAINS)
 * renewed on the replica three ways, one after another on fresh buckets and queues:
 * - the single-invocation loop (FAN_OUT=off, CONCURRENCY 16, the stack's default);
 * - fan-out to the worker at 4 and at 16 workers (the event source mapping's maximum
 *   concurrency), one domain per message (the stack's batch size).
 *
 * Printed for each: wall time (the scheduled run's, plus until the queue is empty), orders placed
 * (Pebble's 201s to newOrder, counted by a proxy; target exactly the domain count), duplicates
 * (orders beyond one per domain, from the functions' logs; target 0), and the largest number of
 * orders in flight at once (from an order's "placing order" to its domain's end).
 *
 * The replica's stand-ins, said plainly: the event source mapping is
 * scripts/replica/event-source-mapping.ts; each invocation calls the worker bundle's handler
 * (dist/renew/worker.js) in this process, with a Lambda-like context (a 300 s timeout), as a warm
 * Lambda sandbox would, rather than a process per invocation (scripts/replica/lambda-runtime.ts,
 * which the tests use): 1000 cold node processes would measure node's start, not the fan-out. On
 * this 2-core machine every worker shares the same CPUs with Pebble and moto, so more workers buy
 * little here; in AWS each has its own. One round by default (BENCH_FANOUT_ROUNDS for more): a
 * round is 3000 certificates.
 */

import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { rootCertificates } from 'node:tls';
import { CreateQueueCommand, DeleteQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createJsonLogger } from '../../functions/adapters/json-logger.js';
import { readRenewConfig } from '../../functions/renew/config.js';
import { buildRenewalContext, createRenewClients } from '../../functions/renew/wiring.js';
import { renewAll } from '../../functions/workflows/renew-all.js';
import { startEventSourceMapping } from '../replica/event-source-mapping.js';
import { startFaultProxy, type FaultProxy } from '../replica/fault-proxy.js';
import { replicaS3Client } from '../replica/provision.js';
import { renewEnvironment } from '../replica/renew-env.js';
import type { ReplicaState } from '../replica/state.js';
import { deleteBucket } from './bucket.js';
import { createDomainBucket, median, runDomains } from './renewal-run.js';

const DOMAINS = Number(process.env.BENCH_FANOUT_DOMAINS ?? 1000);
const ROUNDS = Number(process.env.BENCH_FANOUT_ROUNDS ?? 1);
const WORKER_TIMEOUT_MS = 300_000;
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

interface ModeResult {
  ms: number;
  orders: number;
  duplicates: number;
  maxInFlight: number;
  renewed: number;
}

/** Returns true when a target was missed. */
export async function fanOutBench(state: ReplicaState): Promise<boolean> {
  console.log(`\n== ${DOMAINS} due domains: the single-invocation loop, and fan-out to 4 and 16 workers (${ROUNDS} round${ROUNDS > 1 ? 's' : ''}) ==`);
  const pebble = dirname(state.acme.apiCaFile);
  const ca = await startFaultProxy({
    target: new URL(state.acme.directoryUrl).origin,
    tls: { cert: readFileSync(join(pebble, 'api-server.pem')), key: readFileSync(join(pebble, 'api-server.key')), ca: readFileSync(state.acme.apiCaFile) },
    rules: [],
  });
  const modes = [{ name: 'loop, CONCURRENCY 16', workers: 0 }, { name: 'fan-out, 4 workers', workers: 4 }, { name: 'fan-out, 16 workers', workers: 16 }];
  const results = new Map(modes.map((mode) => [mode.name, [] as ModeResult[]]));
  try {
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const mode of modes) {
        const result = await run(state, ca, mode.workers);
        results.get(mode.name)?.push(result);
        console.log(`  round ${round} ${mode.name}: ${result.renewed}/${DOMAINS} renewed in ${(result.ms / 1000).toFixed(1)} s, ${result.orders} orders, ${result.duplicates} duplicates, at most ${result.maxInFlight} at once`);
      }
    }
  } finally {
    await ca.close();
  }
  let failed = false;
  console.log(`${''.padEnd(5)}${'mode'.padEnd(22)}${'wall (median)'.padStart(14)}${'orders'.padStart(8)}${'duplicates'.padStart(12)}${'max at once'.padStart(13)}   targets: orders = ${DOMAINS}, duplicates 0`);
  for (const mode of modes) {
    const runs = results.get(mode.name) ?? [];
    const ok = runs.every((result) => result.orders === DOMAINS && result.duplicates === 0 && result.renewed === DOMAINS);
    failed ||= !ok;
    const worst = (pick: (result: ModeResult) => number) => Math.max(...runs.map(pick));
    console.log(`${ok ? 'ok   ' : 'MISS '}${mode.name.padEnd(22)}${`${(median(runs.map((result) => result.ms)) / 1000).toFixed(1)} s`.padStart(14)}${String(Math.min(...runs.map((result) => result.orders))).padStart(8)}${String(worst((result) => result.duplicates)).padStart(12)}${String(worst((result) => result.maxInFlight)).padStart(13)}`);
  }
  return failed;
}

/** One run over a fresh bucket: the loop (`workers` 0), or the scheduled run handing over to that many workers. */
async function run(state: ReplicaState, ca: FaultProxy, workers: number): Promise<ModeResult> {
  const admin = replicaS3Client(state);
  const sqs = new SQSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
  const domains = runDomains(DOMAINS);
  const bucket = await createDomainBucket(admin, domains);
  const queueUrl = workers > 0 ? await createQueue(sqs) : null;
  const environment = {
    ...renewEnvironment(state),
    AWS_ENDPOINT_URL: state.awsEndpoint,
    // Lambda gives every function its region.
    AWS_REGION: state.region,
    CERTIFICATES_BUCKET: bucket,
    ACME_DIRECTORY_URL: `${ca.url}/dir`,
    // No budget: the bench counts every order (Let's Encrypt's 300 per 3 h would hold 700 back).
    ORDER_BUDGET_ORDERS: '0',
    ...(queueUrl ? { FAN_OUT: 'always', RENEW_QUEUE_URL: queueUrl } : {}),
  };
  const lines: string[] = [];
  const log = createJsonLogger((line) => lines.push(line));
  const config = readRenewConfig(environment, rootCertificates);
  const clients = createRenewClients(config, () => undefined, { region: state.region, credentials });
  const ordersBefore = placedOrders(ca);
  try {
    const started = performance.now();
    const report = await renewAll({}, buildRenewalContext(config, clients, log, `bench-${randomUUID()}`), config.concurrency);
    if (queueUrl) await drain(sqs, queueUrl, workers, environment, lines);
    const ms = performance.now() - started;
    for (const line of lines.filter((item) => item.includes("\"level\":\"error\"")).slice(0, 3)) console.log(`    ${line.slice(0, 400)}`);
    const renewed = queueUrl ? lines.filter((line) => line.includes('"message":"renewed"')).length : report.counts.renewed;
    return { ms, renewed, orders: placedOrders(ca) - ordersBefore, ...ordersInLog(lines) };
  } finally {
    for (const client of Object.values(clients)) client.destroy();
    if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    sqs.destroy();
    await deleteBucket(admin, bucket);
    admin.destroy();
  }
}

/** The event source mapping at `workers`, invoking the worker bundle's handler until the queue is empty. */
async function drain(sqs: SQSClient, queueUrl: string, workers: number, environment: Record<string, string>, lines: string[]): Promise<void> {
  // The bundle reads its environment on its first invocation, as in a sandbox the stack configured.
  Object.assign(process.env, environment, { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey });
  // A fresh module per run: a sandbox of a stack whose environment (this run's bucket and queue) it read once.
  const require = createRequire(import.meta.url);
  const bundle = resolve(import.meta.dirname, '../../dist/renew/worker.js');
  delete require.cache[bundle];
  const worker = require(bundle) as { handler: (event: SQSEvent, context: object) => Promise<SQSBatchResponse> };
  const log = console.log;
  // The worker logs with console.log, as in Lambda; here its lines are kept for counting.
  console.log = (line: unknown) => void lines.push(String(line));
  const mapping = await startEventSourceMapping({
    sqs,
    queueUrl,
    batchSize: 1,
    maximumConcurrency: workers,
    reportBatchItemFailures: true,
    invoke: (event) => {
      const started = Date.now();
      return worker.handler(event, { awsRequestId: randomUUID(), functionName: 'bench-worker', getRemainingTimeInMillis: () => WORKER_TIMEOUT_MS - (Date.now() - started) });
    },
  });
  try {
    await mapping.idle();
  } finally {
    await mapping.stop();
    console.log = log;
  }
}

async function createQueue(sqs: SQSClient): Promise<string> {
  const name = `bench-fan-${randomUUID().slice(0, 8)}`;
  // As the stack makes it, without its dead-letter queue: nothing here should fail five times.
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: String((6 * WORKER_TIMEOUT_MS) / 1000) } }));
  return queue.QueueUrl as string;
}

function placedOrders(ca: FaultProxy): number {
  return ca.log.filter((entry) => entry.request.method === 'POST' && entry.request.path === '/order-plz' && entry.status === 201).length;
}

/** Duplicates (orders beyond one per domain) and the most orders in flight at once, from the log lines in their order. */
function ordersInLog(lines: readonly string[]): { duplicates: number; maxInFlight: number } {
  const placed = new Map<string, number>();
  const inFlight = new Set<string>();
  let maxInFlight = 0;
  for (const line of lines) {
    const entry = JSON.parse(line) as { message?: string; domain?: string };
    if (!entry.domain) continue;
    if (entry.message === 'placing order') {
      placed.set(entry.domain, (placed.get(entry.domain) ?? 0) + 1);
      inFlight.add(entry.domain);
      maxInFlight = Math.max(maxInFlight, inFlight.size);
    } else if (entry.message === 'renewed' || entry.message === 'renewal failed') {
      inFlight.delete(entry.domain);
    }
  }
  return { duplicates: [...placed.values()].reduce((sum, count) => sum + Math.max(0, count - 1), 0), maxInFlight };
}
