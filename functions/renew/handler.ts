/**
 * The renew Lambda function. Scheduled: renew what is due, then watch; hourly (`{"mode":"watch"}`):
 * only watch what the hosts serve and report. By hand:
 * `serverless invoke -f renew --data '{"domains":["example.com"],"force":true}'`.
 * Every invocation ends by telling people what needs attention (the SNS topic) and publishing its
 * metrics (workflows/invocation.ts); it fails when anything needs attention.
 */

import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { createJsonLogger } from '../adapters/json-logger.js';
import { parseRenewEvent } from '../core/request.js';
import { runInvocation, type InvocationResult } from '../workflows/invocation.js';
import { readRenewConfig, type RenewConfig } from './config.js';
import { buildRenewalContext, buildTellContext, buildWatchContext } from './wiring.js';

let config: RenewConfig | undefined;
let clients: { s3: S3Client; ssm: SSMClient; sns: SNSClient } | undefined;

export type HandlerResult = Omit<InvocationResult, 'failure'>;

export async function handler(event: unknown, context?: Partial<Context>): Promise<HandlerResult> {
  config ??= readRenewConfig(process.env, rootCertificates);
  clients ??= { s3: new S3Client({ forcePathStyle: config.forcePathStyle }), ssm: new SSMClient({}), sns: new SNSClient({}) };
  const runId = context?.awsRequestId ?? randomUUID();
  const log = createJsonLogger((line) => console.log(line), { runId });
  const request = parseRenewEvent(event);
  const timeLeft = context?.getRemainingTimeInMillis ? { timeLeftMs: () => (context.getRemainingTimeInMillis as () => number)() } : {};

  const { failure, ...result } = await runInvocation(request, runId, {
    renewal: { ...buildRenewalContext(config, clients, log, runId), ...timeLeft },
    watch: { ...buildWatchContext(config, clients, log), ...timeLeft },
    tell: buildTellContext(config, clients, log),
    concurrency: config.concurrency,
    log,
    emitMetrics: (record) => console.log(JSON.stringify(record)),
    functionName: context?.functionName ?? 'renew',
  });
  if (failure) throw new Error(failure);
  return result;
}
