/**
 * Fan-out on the replica (issue 13): the scheduled run hands its due domains to an SQS queue in
 * moto, and the worker, the bundle serverless.yml packages (dist/renew/worker.js), renews them.
 * What Lambda does in AWS is done here by the replica's stand-ins, said plainly: the event source
 * mapping's pollers (scripts/replica/event-source-mapping.ts) and the runtime, one node process per
 * invocation with the function's environment only and its timeout enforced
 * (scripts/replica/lambda-runtime.ts). Every order goes to Pebble through a proxy that counts them.
 *
 * The queues are made by each test with the attributes the stack gives its own (a redrive to a
 * dead-letter queue), with shorter timeouts so that a redelivery comes within the test.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ORDER_LEDGER_KEY } from '../../functions/core/layout.js';
import { formatRenewMessage } from '../../functions/core/fan-out.js';
import { startEventSourceMapping, type EventSourceMapping } from '../../scripts/replica/event-source-mapping.js';
import { startFaultProxy, type FaultProxy } from '../../scripts/replica/fault-proxy.js';
import { invokeBundle } from '../../scripts/replica/lambda-runtime.js';
import { renewEnvironment } from '../../scripts/replica/renew-env.js';
import { addDomainFolder, credentials, getText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness } from '../helpers/renew-harness.js';
import { ensureAgentBuilt } from '../helpers/sync-harness.js';

const state = replicaState();
const s3 = s3Client(state);
const sqs = new SQSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
const worker = resolve(import.meta.dirname, '../../dist/renew/worker.js');
const queues: string[] = [];
const mappings: EventSourceMapping[] = [];
let ca: FaultProxy;

before(async () => {
  ensureAgentBuilt();
  const pebble = dirname(state.acme.apiCaFile);
  ca = await startFaultProxy({
    target: new URL(state.acme.directoryUrl).origin,
    tls: { cert: readFileSync(join(pebble, 'api-server.pem')), key: readFileSync(join(pebble, 'api-server.key')), ca: readFileSync(state.acme.apiCaFile) },
    rules: [],
  });
});
after(async () => {
  for (const mapping of mappings) await mapping.stop();
  await ca.close();
  for (const queueUrl of queues) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  sqs.destroy();
});

/** A queue and its dead-letter queue, as infra/fan-out.yml makes them (shorter timeouts). */
async function queuePair(visibilityTimeoutSeconds: number, maxReceiveCount: number): Promise<{ queueUrl: string; deadLetterUrl: string }> {
  const name = uniqueLabel('renew');
  const dead = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const deadLetterUrl = dead.QueueUrl as string;
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['QueueArn'] }));
  const queue = await sqs.send(new CreateQueueCommand({
    QueueName: name,
    Attributes: { VisibilityTimeout: String(visibilityTimeoutSeconds), RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount }) },
  }));
  queues.push(queue.QueueUrl as string, deadLetterUrl);
  return { queueUrl: queue.QueueUrl as string, deadLetterUrl };
}

/** The environment the stack gives both functions, on the replica (serverless.yml's provider.environment). */
function functionEnvironment(bucket: string, queueUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...renewEnvironment(state),
    CERTIFICATES_BUCKET: bucket,
    ACME_DIRECTORY_URL: `${ca.url}/dir`,
    AWS_ENDPOINT_URL: state.awsEndpoint,
    AWS_REGION: state.region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    FAN_OUT: 'always',
    RENEW_QUEUE_URL: queueUrl,
    // The replica's CA has its own root for its HTTPS API: what the public web PKI is to Lambda.
    NODE_EXTRA_CA_CERTS: state.acme.apiCaFile,
    ...extra,
  };
}

interface Workers {
  mapping: EventSourceMapping;
  logs: string[];
  /** The most worker invocations that ran at once. */
  maxConcurrent: () => number;
}

/** The event source mapping on `queueUrl`, invoking the worker bundle as Lambda would. */
async function workers(queueUrl: string, environment: Record<string, string>, options: { maximumConcurrency: number; timeoutMs?: number; onStart?: (event: SQSEvent, kill: () => void, logs: string[]) => void }): Promise<Workers> {
  const logs: string[] = [];
  const mapping = await startEventSourceMapping({
    sqs,
    queueUrl,
    batchSize: 1,
    maximumConcurrency: options.maximumConcurrency,
    reportBatchItemFailures: true,
    invoke: (event) => invokeBundle({
      bundle: worker,
      handler: 'handler',
      event,
      environment,
      timeoutMs: options.timeoutMs ?? 120_000,
      functionName: 'acme-certificates-local-worker',
      onLog: (line) => logs.push(line),
      onStart: (kill) => options.onStart?.(event, kill, logs),
    }) as Promise<SQSBatchResponse>,
  });
  mappings.push(mapping);
  return { mapping, logs, maxConcurrent: () => mapping.stats.maxConcurrent };
}

/** The orders Pebble accepted since `from` (index into the proxy's log), by the domain of their first identifier. */
function ordersSince(from: number): number {
  return ca.log.slice(from).filter((entry) => entry.request.method === 'POST' && entry.request.path === '/order-plz' && entry.status === 201).length;
}

async function serialOf(bucket: string, domain: string): Promise<string | null> {
  return (JSON.parse((await getText(s3, bucket, `${domain}/status.json`)) ?? 'null') as { serial?: string } | null)?.serial ?? null;
}

async function queueCounts(queueUrl: string): Promise<{ visible: number; delayed: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed', 'ApproximateNumberOfMessagesNotVisible'] }));
  return { visible: Number(Attributes.ApproximateNumberOfMessages), delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
}

describe('fan-out to the worker', () => {
  test('the scheduled run hands every due domain to the queue; workers, 3 at a time, renew each once, and a second delivery is ignored', async () => {
    const { queueUrl } = await queuePair(60, 3);
    const harness = await renewHarness({ AWS_ENDPOINT_URL: state.awsEndpoint, ACME_DIRECTORY_URL: `${ca.url}/dir`, FAN_OUT: 'always', RENEW_QUEUE_URL: queueUrl }, { productClients: true });
    const domains = Array.from({ length: 6 }, () => `${uniqueLabel('fan')}.test`);
    for (const domain of domains) await addDomainFolder(s3, harness.bucket, domain);
    const from = ca.log.length;

    const report = await harness.run();

    assert.deepEqual(report.outcomes.map((outcome) => outcome.outcome), domains.map(() => 'queued'), JSON.stringify(report.outcomes));
    assert.equal(report.counts.queued, 6);
    assert.equal(ordersSince(from), 0, 'the scheduled run placed no order itself');
    const environment = functionEnvironment(harness.bucket, queueUrl);
    const pool = await workers(queueUrl, environment, { maximumConcurrency: 3 });
    await pool.mapping.idle();

    for (const domain of domains) assert.ok(await serialOf(harness.bucket, domain), `${domain} renewed by a worker`);
    assert.equal(ordersSince(from), 6, 'one order per domain');
    assert.ok(pool.maxConcurrent() <= 3, `at most 3 workers at once (saw ${pool.maxConcurrent()})`);
    const renewedLines = pool.logs.filter((line) => line.includes('"message":"renewed"'));
    assert.equal(renewedLines.length, 6, 'each domain renewed once');

    // The same message delivered again (SQS delivers at least once): the domain is not due, no order.
    const serial = await serialOf(harness.bucket, domains[0] as string);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: formatRenewMessage({ domain: domains[0] as string, runId: 'again', reason: 'due', force: false, deferrals: 0 }) }));
    await pool.mapping.idle();
    assert.equal(ordersSince(from), 6, 'no second order for a second delivery');
    assert.equal(await serialOf(harness.bucket, domains[0] as string), serial);
    assert.ok(pool.logs.some((line) => line.includes('"outcome":"not due"') || (line.includes(domains[0] as string) && line.includes('not due'))), 'the second delivery found the domain not due');
    assert.deepEqual(await queueCounts(queueUrl), { visible: 0, delayed: 0, inFlight: 0 });
  });

  test('a worker killed mid-domain leaves its message and its lock; the redelivery, after the lock lapses, renews the domain', { timeout: 240_000 }, async () => {
    // Worker timeout 8 s: its lock stands 8 s + the 60 s margin at most; the visibility timeout outlasts it, as in the stack.
    const { queueUrl } = await queuePair(70, 3);
    const harness = await renewHarness({ AWS_ENDPOINT_URL: state.awsEndpoint, ACME_DIRECTORY_URL: `${ca.url}/dir`, FAN_OUT: 'always', RENEW_QUEUE_URL: queueUrl }, { productClients: true });
    const domain = `${uniqueLabel('killed')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    await harness.run();
    let killed = 0;
    const pool = await workers(queueUrl, functionEnvironment(harness.bucket, queueUrl), {
      maximumConcurrency: 1,
      timeoutMs: 8_000,
      onStart: (event, kill, logs) => {
        if (event.Records[0]?.attributes.ApproximateReceiveCount !== '1') return;
        // Killed once it holds the lock and has placed its order: the sandbox dies mid-domain.
        const watch = setInterval(() => {
          if (!logs.some((line) => line.includes('"placing order"'))) return;
          clearInterval(watch);
          killed += 1;
          kill();
        }, 20);
        setTimeout(() => clearInterval(watch), 8_000).unref();
      },
    });
    await pool.mapping.idle();

    assert.equal(killed, 1, 'the first invocation was killed');
    assert.ok(await serialOf(harness.bucket, domain), 'the redelivery renewed the domain');
    assert.ok(pool.logs.some((line) => line.includes('"level":"warn"') && line.includes(domain) && /lock/.test(line)), 'the redelivery took over the dead worker\'s lapsed lock, saying so');
    assert.equal(pool.mapping.stats.failedBatches, 1);
  });

  test('a message that names no domain is retried, then lies in the dead-letter queue (what its alarm counts); the others are renewed', async () => {
    const { queueUrl, deadLetterUrl } = await queuePair(2, 2);
    const harness = await renewHarness({ AWS_ENDPOINT_URL: state.awsEndpoint, ACME_DIRECTORY_URL: `${ca.url}/dir`, FAN_OUT: 'always', RENEW_QUEUE_URL: queueUrl }, { productClients: true });
    const domain = `${uniqueLabel('beside')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"version":1,"domain":"../etc"}' }));
    await harness.run();
    const pool = await workers(queueUrl, functionEnvironment(harness.bucket, queueUrl), { maximumConcurrency: 2 });
    await pool.mapping.idle();

    assert.ok(await serialOf(harness.bucket, domain), 'the good message was renewed');
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: deadLetterUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    assert.deepEqual((dead.Messages ?? []).map((message) => message.Body), ['{"version":1,"domain":"../etc"}']);
    const said = pool.logs.filter((line) => line.includes('a queue message that names no domain'));
    assert.equal(said.length, 2, 'each of its 2 deliveries was logged as an error');
    assert.match(said[0] as string, /"level":"error".*names no valid domain/);
  });

  test('the order budget holds across workers: with 3 orders per 3 h, 5 due domains get 3 orders, and 2 wait on the queue, delayed', async () => {
    const { queueUrl } = await queuePair(60, 3);
    const budget = { ORDER_BUDGET_ORDERS: '3', ORDER_BUDGET_WINDOW_MINUTES: '180' };
    const harness = await renewHarness({ AWS_ENDPOINT_URL: state.awsEndpoint, ACME_DIRECTORY_URL: `${ca.url}/dir`, FAN_OUT: 'always', RENEW_QUEUE_URL: queueUrl, ...budget }, { productClients: true });
    const domains = Array.from({ length: 5 }, () => `${uniqueLabel('budget')}.test`);
    for (const domain of domains) await addDomainFolder(s3, harness.bucket, domain);
    const from = ca.log.length;
    await harness.run();
    const pool = await workers(queueUrl, functionEnvironment(harness.bucket, queueUrl, budget), { maximumConcurrency: 4 });
    // Not idle(): the two put back stay on the queue, delayed, until the budget frees.
    for (const started = Date.now(); Date.now() - started < 90_000; await new Promise((resolve) => setTimeout(resolve, 500))) {
      const counts = await queueCounts(queueUrl);
      if (counts.visible === 0 && counts.inFlight === 0 && counts.delayed === 2 && pool.mapping.stats.invocations >= 5) break;
    }

    assert.equal(ordersSince(from), 3, 'three orders, from four workers at once');
    const renewed = (await Promise.all(domains.map((domain) => serialOf(harness.bucket, domain)))).filter(Boolean);
    assert.equal(renewed.length, 3);
    const ledger = JSON.parse((await getText(s3, harness.bucket, ORDER_LEDGER_KEY)) ?? 'null') as { orders: unknown[] };
    assert.equal(ledger.orders.length, 3);
    assert.equal((await queueCounts(queueUrl)).delayed, 2, 'the two others were put back, delayed until the budget frees');
    assert.equal(pool.logs.filter((line) => line.includes('the order budget is spent: the domain waits on the queue')).length, 2);
  });
});
