/**
 * `acme-certs`: the operator's command line (bin/acme-certs). Reads the command line and the
 * stage once, builds the adapters and runs one workflow; prints what happened. Exit status: 0 all
 * well, 1 something needs attention or failed, 2 the command could not be run (a bad flag, an
 * unknown stage or domain), with nothing changed.
 */

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { S3Client } from '@aws-sdk/client-s3';
import { awsRetrySettings } from '../adapters/aws-retries.js';
import { createJsonLogger } from '../adapters/json-logger.js';
import { invokeRenew, renewInvokerClient } from '../adapters/lambda-invoker.js';
import { S3CertificateStore } from '../adapters/s3-certificate-store.js';
import { S3ConditionalObject } from '../adapters/s3-conditional-object.js';
import { parseCliArgs, USAGE, UsageError, type CliCommand } from '../core/cli-args.js';
import { formatDomainRow } from '../core/domain-report.js';
import { MANIFEST_KEY } from '../core/layout.js';
import { ConfigurationError, describeError } from '../core/errors.js';
import { readRenewConfig } from '../renew/config.js';
import { buildRenewalContext, createRenewClients } from '../renew/wiring.js';
import { dryRun } from '../workflows/dry-run.js';
import { addDomain, collectStatus, DomainStateError, removalSteps, removeDomain, RevokedNotRecordedError, revokeDomain } from '../workflows/operate.js';
import type { DomainOutcome } from '../workflows/renew-domain.js';
import { renewAll, runFailed, UnknownDomainsError, type RunReport } from '../workflows/renew-all.js';
import { localReplica, replicaExports, resolveStage, StageError, type Stage } from './stage.js';

const STAGING_ROOTS = join(import.meta.dirname, '..', '..', 'infra', 'letsencrypt-staging-roots.pem');

type Print = (line: string) => void;

/** Runs the command line `argv`; returns the exit status. */
export async function runCli(argv: readonly string[], out: Print = (line) => console.log(line), err: Print = (line) => console.error(line)): Promise<number> {
  try {
    const invocation = parseCliArgs(argv);
    const { run } = invocation;
    if (run.command === 'help') {
      out(USAGE);
      return 0;
    }
    if (run.command === 'env') {
      if (invocation.stage !== 'local') throw new UsageError('env: prints the local replica\'s exports; use --stage local (a deployed stage needs none: the AWS CLI\'s own credentials)');
      out(replicaExports(localReplica()).trimEnd());
      return 0;
    }
    const stage = await resolveStage(invocation.stage, invocation.region, readFileSync(STAGING_ROOTS, 'utf8'));
    if (stage.endpointOverride) err(`acme-certs: note: AWS_ENDPOINT_URL is set, so stage ${stage.name} is reached at ${stage.endpointOverride}, not at AWS`);
    return await runOn(stage, run, invocation.verbose, out, err);
  } catch (error) {
    if (error instanceof RevokedNotRecordedError) {
      err(`acme-certs: ${error.message}`);
      return 1;
    }
    if (error instanceof UsageError || error instanceof StageError || error instanceof DomainStateError || error instanceof UnknownDomainsError || error instanceof ConfigurationError) {
      err(`acme-certs: ${error.message}`);
      return 2;
    }
    err(`acme-certs: ${describeError(error)}`);
    return 1;
  }
}

async function runOn(stage: Stage, run: Exclude<CliCommand, { command: 'help' | 'env' }>, verbose: boolean, out: Print, err: Print): Promise<number> {
  const bucket = stage.outputs.CertificatesBucketName ?? stage.renewEnv.CERTIFICATES_BUCKET;
  if (!bucket) throw new StageError(`stage ${stage.name}: its stack names no certificates bucket`);
  const s3 = new S3Client({ ...stage.clientConfig, ...awsRetrySettings(6) });
  const store = new S3CertificateStore(s3, bucket);
  const folders = { store, manifest: new S3ConditionalObject(s3, bucket, MANIFEST_KEY), log: logger(verbose, err), now: () => new Date() };
  const now = new Date();
  switch (run.command) {
    case 'status': {
      const { watch } = readRenewConfig(stage.renewEnv, rootCertificates);
      const { rows, hosts, invalidFolders } = await collectStatus(store, now, { concurrency: 16, lapseFraction: watch.lapseFraction, mismatchGraceMs: watch.mismatchGraceMs, hostStaleMs: watch.hostStaleMs });
      const needAttention = rows.filter((row) => row.attention.length > 0).length + hosts.length + invalidFolders.length;
      if (run.json) out(JSON.stringify({ stage: stage.name, bucket, at: now.toISOString(), domains: rows, hosts, invalidFolders }, null, 2));
      else {
        for (const row of rows) out(formatDomainRow(row));
        for (const finding of hosts) out(`host ${finding.host}  !! ${finding.detail}`);
        for (const folder of invalidFolders) out(`${folder}: not a valid domain name: the renew function skips this folder  !! invalid folder`);
        out(`${rows.length} domain(s) in s3://${bucket}; ${needAttention === 0 ? 'nothing needs attention' : `${needAttention} need(s) attention`}`);
      }
      return needAttention === 0 ? 0 : 1;
    }
    case 'add': {
      const { config, manifestProblem } = await addDomain(folders, run);
      out(`added ${run.domain} to s3://${bucket}${config ? ` with config.json ${config.trim().replace(/\s+/g, ' ')}` : ` (names ${run.domain} and www.${run.domain}, ecdsa-p256)`}`);
      out(`Every host's challenge proxy must answer for its names before the first renewal; then: acme-certs renew ${run.domain} --stage ${stage.name} (or wait for the next scheduled run).`);
      if (manifestProblem) err(`acme-certs: ${run.domain} is added, but ${manifestProblem}`);
      return manifestProblem ? 1 : 0;
    }
    case 'remove': {
      const { deleted, hosts, manifestProblem } = await removeDomain({ ...folders, runId: `acme-certs-remove-${randomUUID()}`, lockTtlMs: 300_000 }, run.domain, now);
      out(`removed ${run.domain}: ${deleted} object(s) deleted from s3://${bucket} (their versions stay recoverable for the stack's noncurrentVersionDays). It is no longer renewed or watched.`);
      for (const step of removalSteps(run.domain, hosts)) out(step);
      if (manifestProblem) err(`acme-certs: ${run.domain} is removed, but ${manifestProblem}`);
      return manifestProblem ? 1 : 0;
    }
    case 'renew': {
      const remote = run.where === 'remote' || (run.where === 'default' && !stage.local);
      const event = { ...(run.domains.length > 0 ? { domains: run.domains } : {}), ...(run.force ? { force: true } : {}), ...(run.all ? { all: true } : {}) };
      if (remote) {
        if (stage.local) throw new StageError('stage local: moto cannot run Lambda functions (it needs Docker for that), so renew runs in-process on the replica: leave out --remote');
        out(`invoking ${stage.functionName} with ${JSON.stringify(event)}; waiting up to ${stage.functionTimeoutS + 60} s, no retries`);
        const client = renewInvokerClient(stage.clientConfig, stage.functionTimeoutS);
        const result = await invokeRenew(client, stage.functionName, event).catch((error: unknown) => {
          throw new Error(`the invocation's answer did not arrive (${describeError(error)}): the run may still be going; check acme-certs status --stage ${stage.name} before invoking again`);
        });
        out(JSON.stringify(result.payload, null, 2));
        return result.functionError ? 1 : 0;
      }
      const report = await inProcess(stage, stage.renewEnv, verbose, err, (ctx, concurrency) => renewAll(event, ctx, concurrency));
      printReport(report, out, '');
      return runFailed(report) ? 1 : 0;
    }
    case 'dry-run': {
      const env = { ...stage.renewEnv, ACME_DIRECTORY_URL: stage.dryRun.directoryUrl, ...(stage.dryRun.rootsPem ? { TRUSTED_ROOTS_PEM: stage.dryRun.rootsPem } : {}) };
      out(`dry run against ${stage.dryRun.directoryUrl}: nothing is stored`);
      const report = await inProcess(stage, env, verbose, err, (ctx, concurrency) => dryRun(run.domains, ctx, concurrency), { dryRun: true });
      printReport(report, out, 'dry run: ');
      return runFailed(report) ? 1 : 0;
    }
    case 'revoke': {
      const config = readRenewConfig(stage.renewEnv, rootCertificates);
      const ctx = buildRenewalContext(config, clientsFor(stage, config, verbose, err), logger(verbose, err), randomUUID());
      const { serial } = await revokeDomain({ ...ctx, runId: `acme-certs-revoke-${ctx.runId}`, lockTtlMs: 300_000 }, run.domain, run.reason, now);
      out(`revoked ${run.domain} serial ${serial} (${run.reason}); status.json records it, and the next run renews the domain${run.reason === 'keyCompromise' ? ' with a new key' : ''}: acme-certs renew ${run.domain} --stage ${stage.name}`);
      return 0;
    }
  }
}

type Runner = (ctx: ReturnType<typeof buildRenewalContext>, concurrency: number) => Promise<RunReport>;

/** Runs a renewal in this process with `env` as the function's environment. */
async function inProcess(stage: Stage, env: Record<string, string>, verbose: boolean, err: Print, run: Runner, options: { dryRun?: boolean } = {}): Promise<RunReport> {
  const config = readRenewConfig(env, rootCertificates);
  const ctx = buildRenewalContext(config, clientsFor(stage, config, verbose, err), logger(verbose, err), randomUUID(), options);
  return run(ctx, config.concurrency);
}

function clientsFor(stage: Stage, config: ReturnType<typeof readRenewConfig>, verbose: boolean, err: Print) {
  const log = logger(verbose, err);
  return createRenewClients(config, (event) => log('warn', 'an AWS request failed; the SDK tries it again while tries remain', { step: 'aws', ...event }), { region: stage.region, ...(stage.clientConfig.credentials ? { credentials: stage.clientConfig.credentials } : {}) });
}

function logger(verbose: boolean, err: Print) {
  return createJsonLogger(verbose ? err : () => undefined);
}

function printReport(report: RunReport, out: Print, prefix: string): void {
  for (const outcome of report.outcomes) out(`${prefix}${describeOutcome(outcome)}`);
  for (const folder of report.invalidFolders) out(`${prefix}${folder.folder}: skipped: ${folder.reason}`);
  if (report.stopped) out(`${prefix}the run stopped: ${report.stopped}`);
  for (const problem of report.problems) out(`${prefix}FAILED ${problem}`);
  const { renewed, repaired, notDue, skipped, failed, queued } = report.counts;
  out(`${prefix}${renewed} renewed, ${repaired} repaired, ${notDue} not due, ${queued > 0 ? `${queued} handed to the workers, ` : ''}${skipped} not renewed (backlog), ${failed} failed`);
}

function describeOutcome(outcome: DomainOutcome): string {
  switch (outcome.outcome) {
    case 'renewed':
      return `${outcome.domain}: renewed, serial ${outcome.serial}, until ${outcome.notAfter} (${outcome.reason})${outcome.warnings ? `; warnings: ${outcome.warnings.join('; ')}` : ''}`;
    case 'repaired':
      return `${outcome.domain}: repaired, serial ${outcome.serial} (${outcome.reason})`;
    case 'not due':
      return `${outcome.domain}: not due (${outcome.reason})`;
    case 'skipped':
      return `${outcome.domain}: not renewed in this run (${outcome.reason})`;
    case 'failed':
      return `${outcome.domain}: FAILED at ${outcome.step}: ${outcome.reason}`;
    case 'queued':
      return `${outcome.domain}: due, handed to the workers (${outcome.reason})`;
  }
}
