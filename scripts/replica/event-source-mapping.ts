/**
 * REPLICA STAND-IN, NOT THE PRODUCT: the part of a Lambda SQS event source mapping that AWS runs.
 * In AWS, Lambda's pollers read the queue and invoke the worker function with batches; the stack
 * only declares the mapping. moto has SQS but no Lambda runtime (Invoke needs Docker), so on the
 * replica this module does the pollers' job, and nothing here ships or runs in AWS.
 *
 * What it models, as AWS documents it for SQS (docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):
 * - `ScalingConfig.MaximumConcurrency`: at most that many invocations at once. One poll loop
 *   receives only while a slot is free, so messages never wait in this process while their
 *   visibility timeout runs.
 * - `BatchSize` up to 10 (one ReceiveMessage). Larger batches need `MaximumBatchingWindowInSeconds`
 *   in AWS, which is not modelled: refused.
 * - The event: `SQSEvent` records as Lambda builds them (@types/aws-lambda `SQSRecord`).
 * - A batch that succeeds is deleted. An invocation that rejects (the function threw, timed out,
 *   or its process died) fails the whole batch: nothing is deleted, nothing is made visible early,
 *   and the messages reappear when the queue's visibility timeout lapses.
 * - `FunctionResponseTypes: [ReportBatchItemFailures]`: all but the reported messages are deleted.
 *   As in AWS, an absent or empty `batchItemFailures` is a full success, and an invalid one (not a
 *   list, an empty or unknown `itemIdentifier`) fails the whole batch.
 * - Dead-letter redrive: done by moto itself (below), as SQS does it; this module does not move
 *   messages.
 *
 * Not modelled: the pollers' scaling and back-off after errors, batching windows, FIFO ordering,
 * filter criteria, the function timeout (the `invoke` the caller passes must end, e.g. by killing
 * its child process, and reject), the per-account concurrency limit.
 *
 * moto_server 5.2.1 SQS, as probed (and read in moto/sqs/models.py), and where it differs from SQS:
 * - CreateQueue takes `VisibilityTimeout` and `RedrivePolicy` (`{deadLetterTargetArn,
 *   maxReceiveCount}`; GetQueueAttributes returns the policy as JSON text). Same as SQS.
 * - ReceiveMessage honours `MaxNumberOfMessages` (≤ 10; 11 is refused), `WaitTimeSeconds` (it
 *   re-checks about once a second, so a message that becomes visible during a long poll is returned
 *   up to ~1 s late) and `MessageSystemAttributeNames` (`ApproximateReceiveCount`, `SentTimestamp`,
 *   `SenderId`, `ApproximateFirstReceiveTimestamp`). It does not set `DeadLetterQueueSourceArn` on
 *   a redriven message, nor `AWSTraceHeader`.
 * - Dead-letter queue: moto moves a message itself, during a ReceiveMessage that finds it visible
 *   with `ApproximateReceiveCount >= maxReceiveCount` (so on the receive after the last allowed
 *   one), and that receive does not return it. SQS behaves the same in effect. Until some receive
 *   comes, moto still counts the message in the source queue's ApproximateNumberOfMessages. The
 *   moved message keeps its MessageId and its receive count (it reads maxReceiveCount + 1 at its
 *   first receive from the DLQ).
 * - Visibility: a received message comes back once its timeout lapses, with
 *   ApproximateReceiveCount + 1. ChangeMessageVisibility works (0 makes it visible at once).
 * - DeleteMessageBatch: per-entry results; an unknown handle is a `ReceiptHandleIsInvalid` entry in
 *   `Failed`; deleting an already deleted message succeeds. Unlike SQS, moto deletes with any
 *   receipt handle the message ever had; SQS may keep the message when the handle is not the latest
 *   one (after a redelivery), so a late delete from a slow first delivery does not count on SQS.
 * - GetQueueAttributes: `ApproximateNumberOfMessages` counts visible messages and
 *   `ApproximateNumberOfMessagesNotVisible` the received, undeleted ones whose timeout has not
 *   lapsed; exact, not approximate as in SQS.
 */

import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { Logger } from '../../functions/workflows/ports.js';

export interface EventSourceMappingOptions {
  /** The SQS client to poll with (the caller builds it, e.g. against moto). */
  sqs: SQSClient;
  queueUrl: string;
  /** Messages per invocation, 1–10 (the mapping's `BatchSize`). */
  batchSize: number;
  /** Invocations at once, at least 1 (the mapping's `ScalingConfig.MaximumConcurrency`; AWS's minimum is 2). */
  maximumConcurrency: number;
  /** The mapping has `FunctionResponseTypes: [ReportBatchItemFailures]`: honour `batchItemFailures`. */
  reportBatchItemFailures: boolean;
  /** Runs the function on one batch; a rejection fails the whole batch, as a Lambda error does. */
  invoke: (event: SQSEvent) => Promise<SQSBatchResponse | void>;
  log?: Logger;
  /** Long-poll wait per ReceiveMessage, in seconds; `stop()` takes up to this long. Default 1. */
  pollWaitSeconds?: number;
}

export interface EventSourceMappingStats {
  /** Messages received and passed to an invocation. */
  received: number;
  invocations: number;
  /** The most invocations seen running at once. */
  maxConcurrent: number;
  deleted: number;
  /** Invocations that rejected or answered with an invalid batch response: nothing of theirs deleted. */
  failedBatches: number;
  /** Messages reported in `batchItemFailures` of otherwise valid responses: left on the queue. */
  itemFailures: number;
}

export interface EventSourceMapping {
  /** Live counters. */
  stats: EventSourceMappingStats;
  /**
   * Resolves once a poll that started after this call found the queue empty (nothing visible,
   * in flight or delayed) with no invocation running. Rejects when the mapping stops first.
   */
  idle(): Promise<void>;
  /**
   * Stops polling and resolves once every invocation in flight has ended and its deletes are
   * done. Messages of a receive still in progress are made visible again, not invoked. Safe to
   * call twice.
   */
  stop(): Promise<void>;
}

const MAX_RECEIVE_BATCH = 10;
const RETRY_AFTER_POLL_ERROR_MS = 1000;

/**
 * Starts polling `queueUrl` and invoking `invoke` with batches, as Lambda's SQS event source
 * mapping does; returns once the queue's attributes are read (fails when the queue does not exist).
 */
export async function startEventSourceMapping(options: EventSourceMappingOptions): Promise<EventSourceMapping> {
  const { sqs, queueUrl, batchSize, maximumConcurrency, reportBatchItemFailures, invoke } = options;
  const log: Logger = options.log ?? (() => {});
  const pollWaitSeconds = options.pollWaitSeconds ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_RECEIVE_BATCH) {
    throw new RangeError(`event source mapping for ${queueUrl}: batch size ${batchSize} is not 1–10 (larger batches need a batching window, which the replica does not model)`);
  }
  if (!Number.isInteger(maximumConcurrency) || maximumConcurrency < 1) {
    throw new RangeError(`event source mapping for ${queueUrl}: maximum concurrency ${maximumConcurrency} is not a positive integer`);
  }
  const queueArn = await readQueueArn(sqs, queueUrl);
  const awsRegion = queueArn.split(':')[3] ?? '';

  const stats: EventSourceMappingStats = { received: 0, invocations: 0, maxConcurrent: 0, deleted: 0, failedBatches: 0, itemFailures: 0 };
  const inFlight = new Set<Promise<void>>();
  let running = 0;
  let stopping = false;
  let wake: () => void = () => {};
  let polls = 0;
  const idleWaiters: { afterPoll: number; resolve: () => void; reject: (error: Error) => void }[] = [];

  /** Resolves when a batch ends or stop() is called, whichever comes first. */
  const nextWake = () => new Promise<void>((resolve) => (wake = resolve));

  async function runBatch(messages: Message[]): Promise<void> {
    const event: SQSEvent = { Records: messages.map((message) => toRecord(message, queueArn, awsRegion)) };
    const ids = event.Records.map((record) => record.messageId);
    stats.invocations += 1;
    running += 1;
    stats.maxConcurrent = Math.max(stats.maxConcurrent, running);
    let failedIds: Set<string>;
    try {
      const response = await invoke(event);
      failedIds = reportBatchItemFailures ? reportedFailures(response, ids) : new Set();
    } catch (error) {
      stats.failedBatches += 1;
      log('warn', 'event source mapping: invocation failed; its messages reappear after the visibility timeout', { queueUrl, messageIds: ids, error: (error as Error).message });
      return;
    } finally {
      running -= 1;
    }
    stats.itemFailures += failedIds.size;
    if (failedIds.size > 0) log('info', 'event source mapping: items reported failed stay on the queue', { queueUrl, messageIds: [...failedIds] });
    const done = event.Records.filter((record) => !failedIds.has(record.messageId));
    // Not `stats.deleted += await ...`: that reads the counter before the await and loses concurrent batches' counts.
    const deleted = await deleteMessages(sqs, queueUrl, done, log);
    stats.deleted += deleted;
  }

  function dispatch(messages: Message[]): void {
    stats.received += messages.length;
    const batch = runBatch(messages)
      .catch((error: unknown) => log('error', 'event source mapping: deleting a batch failed; its messages reappear after the visibility timeout', { queueUrl, error: (error as Error).message }))
      .finally(() => {
        inFlight.delete(batch);
        wake();
      });
    inFlight.add(batch);
  }

  async function settleIdleWaiters(poll: number): Promise<void> {
    if (!idleWaiters.some((waiter) => waiter.afterPoll < poll)) return;
    if (!(await queueIsEmpty(sqs, queueUrl)) || inFlight.size > 0) return;
    for (const waiter of idleWaiters.filter((candidate) => candidate.afterPoll < poll)) {
      idleWaiters.splice(idleWaiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  async function pollLoop(): Promise<void> {
    while (!stopping) {
      if (inFlight.size >= maximumConcurrency) {
        await nextWake();
        continue;
      }
      const poll = (polls += 1);
      let messages: Message[];
      try {
        messages = await receive(sqs, queueUrl, batchSize, pollWaitSeconds);
      } catch (error) {
        log('error', 'event source mapping: receiving failed; polling again shortly', { queueUrl, error: (error as Error).message });
        await Promise.race([sleep(RETRY_AFTER_POLL_ERROR_MS), nextWake()]);
        continue;
      }
      if (stopping) {
        await releaseMessages(sqs, queueUrl, messages, log);
        break;
      }
      if (messages.length > 0) {
        dispatch(messages);
      } else if (inFlight.size === 0) {
        await settleIdleWaiters(poll).catch((error: unknown) => log('warn', 'event source mapping: reading queue counts failed', { queueUrl, error: (error as Error).message }));
      }
    }
  }

  log('info', 'event source mapping: polling', { queueUrl, queueArn, batchSize, maximumConcurrency, reportBatchItemFailures });
  const loop = pollLoop();
  let stopped: Promise<void> | undefined;

  return {
    stats,
    idle: () =>
      stopping
        ? Promise.reject(new Error(`event source mapping for ${queueUrl}: stopped`))
        : new Promise<void>((resolve, reject) => idleWaiters.push({ afterPoll: polls, resolve, reject })),
    stop: () => {
      stopped ??= (async () => {
        stopping = true;
        wake();
        await loop;
        await Promise.all(inFlight);
        for (const waiter of idleWaiters.splice(0)) waiter.reject(new Error(`event source mapping for ${queueUrl}: stopped before the queue was idle`));
        log('info', 'event source mapping: stopped', { queueUrl, ...stats });
      })();
      return stopped;
    },
  };
}

async function readQueueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`event source mapping for ${queueUrl}: the queue has no ARN`);
  return arn;
}

async function receive(sqs: SQSClient, queueUrl: string, count: number, waitSeconds: number): Promise<Message[]> {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: count,
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages ?? [];
}

/** Returns whether the queue holds no message at all: visible, in flight or delayed. */
async function queueIsEmpty(sqs: SQSClient, queueUrl: string): Promise<boolean> {
  const names = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...names] }));
  return names.every((name) => Number(Attributes?.[name] ?? 'NaN') === 0);
}

/** Returns the SQS message as the record Lambda puts in an `SQSEvent`. */
function toRecord(message: Message, eventSourceARN: string, awsRegion: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
      ...(value.BinaryValue !== undefined && { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
      dataType: value.DataType ?? 'String',
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ...attributes,
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '',
      SentTimestamp: attributes.SentTimestamp ?? '',
      SenderId: attributes.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '',
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes !== undefined && { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
}

/**
 * Returns the message IDs a partial batch response reports as failed. Throws, failing the whole
 * batch as Lambda does, when the response is not an object, `batchItemFailures` is not a list, or
 * an item names no message of the batch.
 */
function reportedFailures(response: unknown, batchIds: string[]): Set<string> {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object') throw new Error(`invalid batch response: ${JSON.stringify(response)}`);
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) throw new Error('invalid batch response: batchItemFailures is not a list');
  const ids = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !batchIds.includes(id)) throw new Error(`invalid batch response: item ${JSON.stringify(failure)} names no message of the batch`);
    ids.add(id);
  }
  return ids;
}

/** Deletes the records' messages; returns how many were deleted. A failed entry is logged and reappears later. */
async function deleteMessages(sqs: SQSClient, queueUrl: string, records: SQSRecord[], log: Logger): Promise<number> {
  if (records.length === 0) return 0;
  const entries = records.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle }));
  const { Successful, Failed } = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  for (const failure of Failed ?? []) {
    const record = records[Number(failure.Id)];
    log('warn', 'event source mapping: a processed message was not deleted; it will be delivered again', { queueUrl, messageId: record?.messageId, code: failure.Code, error: failure.Message });
  }
  return Successful?.length ?? 0;
}

/** Makes messages received while stopping visible again at once, uninvoked (their receive count stays raised). */
async function releaseMessages(sqs: SQSClient, queueUrl: string, messages: Message[], log: Logger): Promise<void> {
  if (messages.length === 0) return;
  const entries = messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle ?? '', VisibilityTimeout: 0 }));
  try {
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  } catch (error) {
    log('warn', 'event source mapping: could not release messages received while stopping; they reappear after the visibility timeout', { queueUrl, error: (error as Error).message });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
