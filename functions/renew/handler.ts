/**
 * The renew Lambda function. Scheduled: renew what is due, then watch; hourly (`{"mode":"watch"}`):
 * only watch what the hosts serve and report. By hand:
 * `serverless invoke -f renew --data '{"domains":["example.com"],"force":true}'`.
 * Every run ends by telling people what needs attention (the SNS topic) and publishing its metrics;
 * it fails when any domain failed or was left unrenewed, or when the watch found a problem.
 */

import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { createJsonLogger } from '../adapters/json-logger.js';
import { runMetrics, watchMetrics } from '../core/metrics.js';
import { parseRenewEvent } from '../core/request.js';
import { renewAll, runFailed, type RunReport } from '../workflows/renew-all.js';
import { tellPeople } from '../workflows/tell-people.js';
import { watchAll, type WatchReport } from '../workflows/watch.js';
import { readRenewConfig, type RenewConfig } from './config.js';
import { buildRenewalContext, buildTellContext, buildWatchContext } from './wiring.js';

let config: RenewConfig | undefined;
let clients: { s3: S3Client; ssm: SSMClient; sns: SNSClient } | undefined;

export interface HandlerResult {
  mode: 'renew' | 'watch';
  run: RunReport | null;
  watch: WatchReport;
  told: 'new' | 'reminder' | 'cleared' | null;
}

export async function handler(event: unknown, context?: Partial<Context>): Promise<HandlerResult> {
  config ??= readRenewConfig(process.env, rootCertificates);
  clients ??= { s3: new S3Client({ forcePathStyle: config.forcePathStyle }), ssm: new SSMClient({}), sns: new SNSClient({}) };
  const runId = context?.awsRequestId ?? randomUUID();
  const log = createJsonLogger((line) => console.log(line), { runId });
  const request = parseRenewEvent(event);
  const functionName = context?.functionName ?? 'renew';
  const timeLeftMs = context?.getRemainingTimeInMillis ? () => (context.getRemainingTimeInMillis as () => number)() : undefined;

  const mode = request.mode ?? 'renew';
  const run = mode === 'renew' ? await renewAll(request, { ...buildRenewalContext(config, clients, log, runId), ...(timeLeftMs ? { timeLeftMs } : {}) }, config.concurrency) : null;
  if (run) console.log(JSON.stringify(runMetrics(run.counts, functionName, new Date())));
  const watch = await watchAll(buildWatchContext(config, clients, log));
  const hosts = { stale: count(watch, 'stale'), behind: count(watch, 'behind'), failing: count(watch, 'failing') + count(watch, 'unreadable') };
  console.log(JSON.stringify(watchMetrics(watch.summary, hosts, functionName, new Date())));
  const { sent, items } = await tellPeople({ runId, run, manual: request.domains ?? null, watch }, buildTellContext(config, clients, log, context?.invokedFunctionArn));

  const failed = (run !== null && runFailed(run)) || items.length > 0;
  log(failed ? 'error' : 'info', 'run finished', { mode, ...(run ? { counts: run.counts } : {}), problems: items.length, told: sent });
  if (failed) throw new Error(failureSummary(items.map((item) => item.line)));
  return { mode, run, watch, told: sent };
}

function count(watch: WatchReport, kind: WatchReport['hosts'][number]['kind']): number {
  return watch.hosts.filter((finding) => finding.kind === kind).length;
}

function failureSummary(lines: string[]): string {
  return `${lines.length} problem(s): ${lines.join(' | ')}`;
}
