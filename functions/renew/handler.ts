/**
 * The renew Lambda function. Scheduled: renew what is due, then watch; hourly (`{"mode":"watch"}`):
 * only watch what the hosts serve and report. By hand:
 * `serverless invoke -f renew --data '{"domains":["example.com"],"force":true}'`.
 * Every invocation ends by telling people what needs attention (the SNS topic) and publishing its
 * metrics (workflows/invocation.ts); it fails when anything needs attention.
 */

import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { Context } from 'aws-lambda';
import { createJsonLogger } from '../adapters/json-logger.js';
import { parseRenewEvent } from '../core/request.js';
import { runInvocation, type InvocationResult } from '../workflows/invocation.js';
import { readRenewConfig, type RenewConfig } from './config.js';
import type { Logger } from '../workflows/ports.js';
import { buildRenewalContext, buildTellContext, buildWatchContext, createRenewClients, type RenewClients } from './wiring.js';

let config: RenewConfig | undefined;
let clients: RenewClients | undefined;
/** The invocation's logger, for the clients' retry reports (the clients outlive an invocation). */
let invocationLog: Logger = () => undefined;

export type HandlerResult = Omit<InvocationResult, 'failure'>;

export async function handler(event: unknown, context?: Partial<Context>): Promise<HandlerResult> {
  config ??= readRenewConfig(process.env, rootCertificates);
  clients ??= createRenewClients(config, (event) => invocationLog('warn', 'an AWS request failed; the SDK tries it again while tries remain', { step: 'aws', ...event }));
  const runId = context?.awsRequestId ?? randomUUID();
  const log = createJsonLogger((line) => console.log(line), { runId });
  invocationLog = log;
  const request = parseRenewEvent(event);
  const timeLeft = context?.getRemainingTimeInMillis ? { timeLeftMs: () => (context.getRemainingTimeInMillis as () => number)() } : {};

  const { failure, ...result } = await runInvocation(request, runId, {
    renewal: buildRenewalContext(config, clients, log, runId, timeLeft),
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
