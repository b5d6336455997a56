/**
 * One renewal run of the renew function, in this process, as the function runs it (readRenewConfig,
 * its SDK clients, buildRenewalContext, renewAll), over a fresh versioned bucket whose folders are
 * the given domains: the benches' way to issue certificates with the project. The bucket, every
 * version, is removed afterwards.
 */

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { rootCertificates } from 'node:tls';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createJsonLogger } from '../../functions/adapters/json-logger.js';
import { DomainFile, domainFolderKey, domainObjectKey } from '../../functions/core/layout.js';
import { readRenewConfig } from '../../functions/renew/config.js';
import { buildRenewalContext, createRenewClients } from '../../functions/renew/wiring.js';
import { renewAll, type RunReport } from '../../functions/workflows/renew-all.js';
import { replicaS3Client } from '../replica/provision.js';
import { renewEnvironment } from '../replica/renew-env.js';
import type { ReplicaState } from '../replica/state.js';
import { deleteBucket } from './bucket.js';

export interface RenewalRun {
  /** renewAll alone: the bucket's set-up and the clients' creation are not counted. */
  ms: number;
  report: RunReport;
  /** The run's log lines (JSON). */
  lines: string[];
}

export interface RenewalRunOptions {
  domains: readonly string[];
  /** Overrides of the replica's renew environment (scripts/replica/renew-env.ts). */
  environment?: Record<string, string>;
  /** Written as each domain's config.json (none when absent). */
  domainConfig?: object;
}

/** Returns `count` domain names unique to one run: `cert00-<label>.test`, … */
export function runDomains(count: number, label = randomBytes(4).toString('hex')): string[] {
  return Array.from({ length: count }, (_, i) => `cert${String(i).padStart(2, '0')}-${label}.test`);
}

/** Creates a versioned bucket holding a folder marker (and config.json) per domain; returns its name. */
export async function createDomainBucket(s3: S3Client, domains: readonly string[], domainConfig?: object): Promise<string> {
  const bucket = `bench-renew-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  for (const domain of domains) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: domainFolderKey(domain), Body: new Uint8Array(0) }));
    if (domainConfig) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: domainObjectKey(domain, DomainFile.config), Body: JSON.stringify(domainConfig) }));
  }
  return bucket;
}

/** Renews every domain of `options` in one run over a bucket of their own, and removes the bucket. */
export async function runRenewal(state: ReplicaState, options: RenewalRunOptions): Promise<RenewalRun> {
  const admin = replicaS3Client(state);
  const bucket = await createDomainBucket(admin, options.domains, options.domainConfig);
  try {
    const config = readRenewConfig({ ...renewEnvironment(state), AWS_ENDPOINT_URL: state.awsEndpoint, CERTIFICATES_BUCKET: bucket, ...options.environment }, rootCertificates);
    const lines: string[] = [];
    const log = createJsonLogger((line) => lines.push(line));
    const clients = createRenewClients(config, (event) => log('warn', 'an AWS request failed; the SDK tries it again while tries remain', { step: 'aws', ...event }), {
      region: state.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const started = performance.now();
      const report = await renewAll({}, buildRenewalContext(config, clients, log, `bench-${bucket}`), config.concurrency);
      return { ms: performance.now() - started, report, lines };
    } finally {
      for (const client of Object.values(clients)) client.destroy();
    }
  } finally {
    await deleteBucket(admin, bucket);
    admin.destroy();
  }
}

/** Returns what a run did not renew, the first three, for a progress line (empty when all were renewed). */
export function notRenewed(report: RunReport): string {
  const failures = report.outcomes.filter((outcome) => outcome.outcome !== 'renewed');
  if (failures.length === 0 && !report.stopped) return '';
  return `not renewed: ${failures.slice(0, 3).map((outcome) => `${outcome.domain}: ${outcome.reason}`).join(' | ')}${report.stopped ? ` | run stopped: ${report.stopped}` : ''}`;
}

/** The median (of an even count, the mean of the middle two). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
