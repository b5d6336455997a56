/**
 * The renew Lambda function: triggered by the schedule (renew what is due) or by hand
 * (`serverless invoke -f renew --data '{"domains":["example.com"],"force":true}'`).
 * Fails the invocation when any domain failed, after all of them were handled.
 */

import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { createJsonLogger } from '../adapters/json-logger.js';
import { runMetrics } from '../core/metrics.js';
import { parseRenewEvent } from '../core/request.js';
import { renewAll, runFailed, type RunReport } from '../workflows/renew-all.js';
import { readRenewConfig, type RenewConfig } from './config.js';
import { buildRenewalContext } from './wiring.js';

let config: RenewConfig | undefined;

export async function handler(event: unknown, context?: { awsRequestId?: string; functionName?: string; getRemainingTimeInMillis?: () => number }): Promise<RunReport> {
  config ??= readRenewConfig(process.env, rootCertificates);
  const runId = context?.awsRequestId ?? randomUUID();
  const log = createJsonLogger((line) => console.log(line), { runId });
  const request = parseRenewEvent(event);
  const clients = { s3: new S3Client({ forcePathStyle: config.forcePathStyle }), ssm: new SSMClient({}) };
  const timeLeftMs = context?.getRemainingTimeInMillis ? () => (context.getRemainingTimeInMillis as () => number)() : undefined;
  const report = await renewAll(request, { ...buildRenewalContext(config, clients, log, runId), ...(timeLeftMs ? { timeLeftMs } : {}) }, config.concurrency);
  console.log(JSON.stringify(runMetrics(report.counts, context?.functionName ?? 'renew', new Date())));
  log(runFailed(report) ? 'error' : 'info', 'run finished', { counts: report.counts });
  if (runFailed(report)) throw new Error(failureSummary(report));
  return report;
}

function failureSummary(report: RunReport): string {
  const failures = report.outcomes.flatMap((item) => (item.outcome === 'failed' ? [`${item.domain}: ${item.step}: ${item.reason}`] : []));
  const invalid = report.invalidFolders.map((item) => `folder "${item.folder}": ${item.reason}`);
  return `renewal failed for ${failures.length} domain(s) and ${invalid.length} invalid folder(s): ${[...failures, ...invalid].join(' | ')}`;
}
