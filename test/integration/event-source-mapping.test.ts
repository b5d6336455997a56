// Runs against the local replica (moto's SQS): npm run replica:start first.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { startEventSourceMapping, type EventSourceMapping, type EventSourceMappingOptions } from '../../scripts/replica/event-source-mapping.js';
import type { Logger } from '../../functions/workflows/ports.js';
import { credentials, replicaState, uniqueLabel } from '../helpers/replica-clients.js';

const state = replicaState();
const sqs = new SQSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
const createdQueues: string[] = [];
const mappings: EventSourceMapping[] = [];
const VISIBILITY_TIMEOUT_SECONDS = 2;
/** ESM_DEBUG=1 prints the mapping's log lines, to see why a case failed. */
const debugLog: Logger | undefined = process.env.ESM_DEBUG ? (level, message, fields) => console.error(level, message, JSON.stringify(fields)) : undefined;

after(async () => {
  await Promise.all(mappings.map((mapping) => mapping.stop()));
  for (const queueUrl of createdQueues) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  sqs.destroy();
});

/** Creates a queue only this test uses (deleted after the file), with a dead-letter queue when `maxReceiveCount` is given. */
async function createQueue(maxReceiveCount?: number): Promise<{ queueUrl: string; queueArn: string; dlqUrl?: string }> {
  const name = uniqueLabel('esm-test');
  const attributes: Record<string, string> = { VisibilityTimeout: String(VISIBILITY_TIMEOUT_SECONDS) };
  let dlqUrl: string | undefined;
  if (maxReceiveCount !== undefined) {
    dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl ?? '';
    createdQueues.push(dlqUrl);
    attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: await queueArnOf(dlqUrl), maxReceiveCount });
  }
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl ?? '';
  createdQueues.push(queueUrl);
  return { queueUrl, queueArn: await queueArnOf(queueUrl), dlqUrl };
}

async function queueArnOf(queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return Attributes?.QueueArn ?? '';
}

async function sendBodies(queueUrl: string, bodies: string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    const entries = bodies.slice(start, start + 10).map((body, index) => ({ Id: String(index), MessageBody: body }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
}

async function messageCounts(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes?.ApproximateNumberOfMessages), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) };
}

async function start(options: Omit<EventSourceMappingOptions, 'sqs' | 'reportBatchItemFailures'> & { reportBatchItemFailures?: boolean }): Promise<EventSourceMapping> {
  const mapping = await startEventSourceMapping({ sqs, reportBatchItemFailures: true, log: debugLog, ...options });
  mappings.push(mapping);
  return mapping;
}

/** One delivery of one message, as the handler saw it. */
interface Delivery {
  body: string;
  receiveCount: number;
  at: number;
}

const deliveriesOf = (event: SQSEvent): Delivery[] =>
  event.Records.map((record) => ({ body: record.body, receiveCount: Number(record.attributes.ApproximateReceiveCount), at: Date.now() }));

test('delivers every message once, in batches of at most the batch size, as Lambda SQS event records', { timeout: 30_000 }, async () => {
  const { queueUrl, queueArn } = await createQueue();
  const bodies = Array.from({ length: 25 }, (_, index) => `domain-${index}.test`);
  await sendBodies(queueUrl, bodies);
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'with-attribute.test', MessageAttributes: { runId: { DataType: 'String', StringValue: 'run-1' } } }));
  const batches: SQSRecord[][] = [];

  const mapping = await start({ queueUrl, batchSize: 10, maximumConcurrency: 2, invoke: async (event) => void batches.push(event.Records) });
  await mapping.idle();
  await mapping.stop();

  const records = batches.flat();
  assert.deepEqual(records.map((record) => record.body).sort(), [...bodies, 'with-attribute.test'].sort());
  assert.ok(batches.every((batch) => batch.length >= 1 && batch.length <= 10), `batch sizes ${batches.map((batch) => batch.length)}`);
  const first = records[0];
  assert.ok(first);
  assert.deepEqual(Object.keys(first).sort(), ['attributes', 'awsRegion', 'body', 'eventSource', 'eventSourceARN', 'md5OfBody', 'messageAttributes', 'messageId', 'receiptHandle']);
  assert.deepEqual(
    { eventSource: first.eventSource, eventSourceARN: first.eventSourceARN, awsRegion: first.awsRegion, receiveCount: first.attributes.ApproximateReceiveCount },
    { eventSource: 'aws:sqs', eventSourceARN: queueArn, awsRegion: state.region, receiveCount: '1' },
  );
  assert.match(first.attributes.SentTimestamp, /^\d+$/);
  const withAttribute = records.find((record) => record.body === 'with-attribute.test');
  assert.deepEqual(withAttribute?.messageAttributes, { runId: { stringValue: 'run-1', stringListValues: [], binaryListValues: [], dataType: 'String' } });
  assert.equal(typeof withAttribute?.md5OfMessageAttributes, 'string');
  assert.deepEqual({ invocations: mapping.stats.invocations, deleted: mapping.stats.deleted, failedBatches: mapping.stats.failedBatches }, { invocations: batches.length, deleted: 26, failedBatches: 0 });
  assert.deepEqual(await messageCounts(queueUrl), { visible: 0, inFlight: 0 });
});

test('never runs more invocations at once than the maximum concurrency, and reaches it', { timeout: 30_000 }, async () => {
  const { queueUrl } = await createQueue();
  await sendBodies(queueUrl, Array.from({ length: 12 }, (_, index) => `domain-${index}.test`));
  let running = 0;
  let mostRunning = 0;

  const mapping = await start({
    queueUrl,
    batchSize: 1,
    maximumConcurrency: 3,
    invoke: async () => {
      running += 1;
      mostRunning = Math.max(mostRunning, running);
      await sleep(300);
      running -= 1;
    },
  });
  await mapping.idle();
  await mapping.stop();

  assert.equal(mostRunning, 3);
  assert.equal(mapping.stats.maxConcurrent, 3);
  assert.deepEqual({ invocations: mapping.stats.invocations, deleted: mapping.stats.deleted }, { invocations: 12, deleted: 12 });
});

test('deletes the rest of a batch and delivers a reported item failure again after the visibility timeout', { timeout: 30_000 }, async () => {
  const { queueUrl } = await createQueue();
  await sendBodies(queueUrl, ['a.test', 'b.test', 'c.test']);
  const deliveries: Delivery[] = [];

  const mapping = await start({
    queueUrl,
    batchSize: 10,
    maximumConcurrency: 2,
    invoke: async (event): Promise<SQSBatchResponse> => {
      deliveries.push(...deliveriesOf(event));
      const failed = event.Records.filter((record) => record.body === 'b.test' && record.attributes.ApproximateReceiveCount === '1');
      return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) };
    },
  });
  await mapping.idle();
  await mapping.stop();

  const ofB = deliveries.filter((delivery) => delivery.body === 'b.test');
  assert.deepEqual(ofB.map((delivery) => delivery.receiveCount), [1, 2]);
  const [firstB, secondB] = ofB;
  assert.ok(firstB && secondB && secondB.at - firstB.at >= VISIBILITY_TIMEOUT_SECONDS * 1000 - 100, 'redelivered before the visibility timeout lapsed');
  assert.deepEqual(deliveries.filter((delivery) => delivery.body !== 'b.test').map((delivery) => `${delivery.body}:${delivery.receiveCount}`).sort(), ['a.test:1', 'c.test:1']);
  assert.deepEqual({ itemFailures: mapping.stats.itemFailures, deleted: mapping.stats.deleted, failedBatches: mapping.stats.failedBatches }, { itemFailures: 1, deleted: 3, failedBatches: 0 });
});

/** Runs `process.execPath -e script` and resolves with its exit; rejects when it exits non-zero or by a signal. */
function runChild(script: string, onStart: (kill: () => void) => void = () => {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    onStart(() => child.kill('SIGKILL'));
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${signal ?? `code ${code}`}`))));
  });
}

const failingFirstDeliveries: { name: string; first: (event: SQSEvent) => Promise<SQSBatchResponse | void> }[] = [
  { name: 'the invocation rejects', first: async () => Promise.reject(new Error('handler threw')) },
  {
    name: 'the worker process is killed mid-batch',
    first: () => runChild('setTimeout(() => {}, 60_000)', (kill) => void sleep(200).then(kill)),
  },
  { name: 'the response names an item not in the batch', first: async () => ({ batchItemFailures: [{ itemIdentifier: 'not-a-message-id' }] }) },
  { name: 'the response has an empty itemIdentifier', first: async () => ({ batchItemFailures: [{ itemIdentifier: '' }] }) },
];

// Independent queues, and each case mostly waits out the visibility timeout: run them side by side.
describe('a failed invocation', { concurrency: true }, () => {
  for (const { name, first } of failingFirstDeliveries) {
    test(`deletes nothing and delivers the whole batch again after the visibility timeout when ${name}`, { timeout: 30_000 }, async () => {
      const { queueUrl } = await createQueue();
      await sendBodies(queueUrl, ['a.test', 'b.test']);
      const deliveries: Delivery[] = [];

      const mapping = await start({
        queueUrl,
        batchSize: 10,
        maximumConcurrency: 1,
        invoke: async (event) => {
          deliveries.push(...deliveriesOf(event));
          return event.Records.every((record) => record.attributes.ApproximateReceiveCount === '1') ? first(event) : undefined;
        },
      });
      await mapping.idle();
      await mapping.stop();

      assert.deepEqual(deliveries.map((delivery) => `${delivery.body}:${delivery.receiveCount}`).sort(), ['a.test:1', 'a.test:2', 'b.test:1', 'b.test:2']);
      assert.deepEqual({ failedBatches: mapping.stats.failedBatches, deleted: mapping.stats.deleted }, { failedBatches: 1, deleted: 2 });
    });
  }
});

test('leaves a message whose invocations always fail in the dead-letter queue after maxReceiveCount receives', { timeout: 30_000 }, async () => {
  const maxReceiveCount = 2;
  const { queueUrl, dlqUrl } = await createQueue(maxReceiveCount);
  assert.ok(dlqUrl);
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison.test' }));
  const deliveries: Delivery[] = [];

  const mapping = await start({
    queueUrl,
    batchSize: 10,
    maximumConcurrency: 2,
    invoke: async (event) => {
      deliveries.push(...deliveriesOf(event));
      throw new Error('poison message');
    },
  });
  await mapping.idle();
  await mapping.stop();

  assert.deepEqual(deliveries.map((delivery) => delivery.receiveCount), [1, 2]);
  assert.deepEqual({ failedBatches: mapping.stats.failedBatches, deleted: mapping.stats.deleted }, { failedBatches: 2, deleted: 0 });
  const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  assert.deepEqual(Messages?.map((message) => message.Body), ['poison.test']);
});

test('stop() waits for the invocation in flight, then nothing polls or runs', { timeout: 30_000 }, async () => {
  const { queueUrl } = await createQueue();
  await sendBodies(queueUrl, ['slow.test']);
  let started = false;
  let finished = false;
  const mapping = await start({
    queueUrl,
    batchSize: 1,
    maximumConcurrency: 1,
    invoke: async () => {
      started = true;
      await sleep(800);
      finished = true;
    },
  });
  while (!started) await sleep(20);

  const stopping = mapping.stop();
  const idleAfterStop = assert.rejects(mapping.idle(), /stopped/);
  await stopping;

  assert.equal(finished, true, 'stop() resolved before the invocation ended');
  assert.equal(mapping.stats.deleted, 1, 'the finished invocation was not deleted');
  await idleAfterStop;
  await sendBodies(queueUrl, ['after-stop.test']);
  await sleep(1500);
  assert.equal(mapping.stats.invocations, 1);
  assert.deepEqual(await messageCounts(queueUrl), { visible: 1, inFlight: 0 });
});
