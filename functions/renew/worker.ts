/**
 * The worker function's entry point (fan-out, core/fan-out.ts): Lambda's SQS event source mapping
 * hands it a batch of messages, one due domain each; it renews them (workflows/work-queue.ts) and
 * answers which messages to leave on the queue (ReportBatchItemFailures). Only wiring here.
 *
 * On the replica no Lambda polls the queue: scripts/replica/event-source-mapping.ts does what the
 * event source mapping does in AWS, and invokes this handler the same way.
 */

import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createJsonLogger } from '../adapters/json-logger.js';
import { SnsNotifier } from '../adapters/sns-notifier.js';
import { SqsRenewQueue } from '../adapters/sqs-renew-queue.js';
import { workQueue } from '../workflows/work-queue.js';
import type { Logger } from '../workflows/ports.js';
import { readRenewConfig, type RenewConfig } from './config.js';
import { buildRenewalContext, createRenewClients, type RenewClients } from './wiring.js';

let config: RenewConfig | undefined;
let clients: RenewClients | undefined;
let invocationLog: Logger = () => undefined;

export async function handler(event: SQSEvent, context?: Partial<Context>): Promise<SQSBatchResponse> {
  config ??= readRenewConfig(process.env, rootCertificates);
  clients ??= createRenewClients(config, (event) => invocationLog('warn', 'an AWS request failed; the SDK tries it again while tries remain', { step: 'aws', ...event }));
  if (!config.fanOut.queueUrl) throw new Error('environment variable RENEW_QUEUE_URL is required by the worker');
  const runId = context?.awsRequestId ?? randomUUID();
  const log = createJsonLogger((line) => console.log(line), { runId });
  invocationLog = log;
  const timeLeft = context?.getRemainingTimeInMillis ? { timeLeftMs: () => (context.getRemainingTimeInMillis as () => number)() } : {};
  const renewal = buildRenewalContext(config, clients, log, runId, timeLeft);

  const report = await workQueue(
    (event.Records ?? []).map((record) => ({ messageId: record.messageId, body: record.body, receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1) })),
    {
      // A worker renews what it was handed: it never hands it on.
      renewal: { ...renewal, fanOut: null },
      queue: new SqsRenewQueue(clients.sqs, config.fanOut.queueUrl),
      notifier: config.alarmTopicArn ? new SnsNotifier(clients.sns, config.alarmTopicArn) : null,
      log,
      emitMetrics: (record) => console.log(JSON.stringify(record)),
      functionName: context?.functionName ?? 'renew-worker',
      concurrency: config.concurrency,
      service: config.service,
    },
  );
  return { batchItemFailures: report.retry.map((itemIdentifier) => ({ itemIdentifier })) };
}
