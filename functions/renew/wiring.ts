/**
 * Builds the renewal context from configuration and SDK clients: the only place adapters are
 * constructed for the renew function.
 */

import { S3ConditionalObject } from '../adapters/s3-conditional-object.js';
import { MANIFEST_KEY, ORDER_LEDGER_KEY } from '../core/layout.js';
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsRenewQueue } from '../adapters/sqs-renew-queue.js';
import { awsRetrySettings, reportAwsRetries, type AwsRetryEvent } from '../adapters/aws-retries.js';
import type { AcmeIssuer } from '../adapters/acme-issuer.js';
import type { AcmeRetryEvent } from '../adapters/acme-retry.js';
import { judgeClockSkew, type ClockSkew } from '../core/clock.js';
import { CaDirectoryClient } from '../adapters/ca-directory.js';
import { HttpPreflight } from '../adapters/http-preflight.js';
import { S3CertificateStore } from '../adapters/s3-certificate-store.js';
import { S3ChallengeStore } from '../adapters/s3-challenge-store.js';
import { SsmAccountKeyStore } from '../adapters/ssm-account-key.js';
import { contactFor, formatAccountRecord, parseAccountRecord } from '../core/account.js';
import { describeError } from '../core/errors.js';
import { generateDomainKey } from '../core/keys.js';
import { nextRunAfter, previousRunAtOrBefore } from '../core/schedule.js';
import { TlsServedProbe } from '../adapters/tls-served-probe.js';
import { SnsNotifier } from '../adapters/sns-notifier.js';
import { readOnly } from '../workflows/dry-run.js';
import type { CertificateStore, IssuerProvider, Logger, RenewalContext, WatchContext } from '../workflows/ports.js';
import type { TellContext } from '../workflows/tell-people.js';
import type { RenewConfig } from './config.js';

export interface RenewClients {
  s3: S3Client;
  ssm: SSMClient;
  sns: SNSClient;
  sqs: SQSClient;
}

/**
 * The renew function's SDK clients: adaptive retries, 8 tries, every failed try reported through
 * `onFailedTry`. `base` adds settings the environment does not give (region and credentials
 * outside Lambda).
 */
export function createRenewClients(config: RenewConfig, onFailedTry: (event: AwsRetryEvent) => void, base: { region?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } = {}): RenewClients {
  const common = { ...base, ...awsRetrySettings(8), ...(config.awsEndpoint ? { endpoint: config.awsEndpoint } : {}) };
  const clients = { s3: new S3Client({ ...common, forcePathStyle: config.forcePathStyle }), ssm: new SSMClient(common), sns: new SNSClient(common), sqs: new SQSClient(common) };
  for (const client of Object.values(clients)) reportAwsRetries(client, onFailedTry);
  return clients;
}

/**
 * Returns the context one run uses; the ACME account is loaded (or created) once, when a domain
 * first needs it. `timeLeftMs` is the invocation's time left (Lambda's context), when known; `now`
 * is the run's clock (the system's).
 */
export function buildRenewalContext(config: RenewConfig, clients: { s3: S3Client; ssm: SSMClient; sqs?: SQSClient }, log: Logger, runId: string, options: { timeLeftMs?: () => number; now?: () => Date; dryRun?: boolean } = {}): RenewalContext {
  const { timeLeftMs, now = () => new Date() } = options;
  // A dry run writes nothing: not to the bucket, not the account record, not a first account key.
  const store = options.dryRun ? readOnly(new S3CertificateStore(clients.s3, config.certificatesBucket)) : new S3CertificateStore(clients.s3, config.certificatesBucket);
  const directory = new CaDirectoryClient(config.directoryUrl, config.skewAllowanceMs, now, config.acme.requestTimeoutMs);
  return {
    store,
    manifest: options.dryRun ? null : new S3ConditionalObject(clients.s3, config.certificatesBucket, MANIFEST_KEY),
    challenges: new S3ChallengeStore(clients.s3, config.challengesBucket),
    issuer: accountIssuer(config, new SsmAccountKeyStore(clients.ssm, config.accountKeyParameter, config.accountKeyKmsKeyId), store, log, { timeLeftMs, now, createKey: !options.dryRun, directory }),
    caClock: directory,
    directory,
    preflight: new HttpPreflight(config.preflight),
    log,
    now,
    nextRunAt: (now) => nextRunAfter(config.schedule, now),
    previousRunAt: (now) => previousRunAtOrBefore(config.schedule, now),
    nextCheckAt: (now) => earliest(nextRunAfter(config.schedule, now), nextRunAfter(config.checkSchedule, now)),
    trustedRoots: config.trustedRoots,
    skewAllowanceMs: config.skewAllowanceMs,
    runId,
    lockTtlMs: config.lockTtlMs,
    // A dry run's orders are real (a CA's limits count them), but it writes nothing, the ledger included.
    // A dry run renews in place, whatever the fan-out mode.
    fanOut: config.fanOut.mode !== 'off' && config.fanOut.queueUrl && clients.sqs && !options.dryRun ? { mode: config.fanOut.mode, queue: new SqsRenewQueue(clients.sqs, config.fanOut.queueUrl), perDomainMs: config.fanOut.perDomainMs } : null,
    orderBudget: config.orderBudget && !options.dryRun ? { ledger: new S3ConditionalObject(clients.s3, config.certificatesBucket, ORDER_LEDGER_KEY), budget: config.orderBudget } : null,
    randomToken: () => randomBytes(24).toString('base64url'),
    random: () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48,
    ...(timeLeftMs ? { timeLeftMs } : {}),
  };
}

/**
 * The run's ACME account, loaded once: the key from SSM, the account from the CA. The run's clock
 * is measured against the CA's on the first answer: beyond the allowance the account fails (no
 * order is placed with a clock that wrong), above a minute it is logged.
 */
function accountIssuer(config: RenewConfig, accountKeys: SsmAccountKeyStore, store: CertificateStore, log: Logger, clock: { timeLeftMs: (() => number) | undefined; now: () => Date; createKey: boolean; directory: CaDirectoryClient }): IssuerProvider {
  let issuer: Promise<AcmeIssuer> | undefined;
  return () => {
    issuer ??= (async () => {
      // The account record and acme-client (never loaded by a run with nothing due) load while SSM
      // answers; a failure of either is reported where it is awaited, after the key's.
      const recordText = store.readAccountRecord();
      recordText.catch(() => undefined);
      const acmeModule = import('../adapters/acme-issuer.js');
      acmeModule.catch(() => undefined);
      const { keyPem, created } = clock.createKey ? await accountKeys.getOrCreate(() => generateDomainKey('ecdsa-p256')) : { keyPem: await accountKeys.getExisting(), created: false };
      log('info', created ? 'created ACME account key' : 'loaded ACME account key', { step: 'account', parameter: accountKeys.parameterName });
      let skew: ClockSkew | null = null;
      const retry = {
        policy: config.acmeRetry,
        now: clock.now,
        requestTimeoutMs: config.acme.requestTimeoutMs,
        ...(clock.timeLeftMs ? { timeLeftMs: clock.timeLeftMs } : {}),
        onRetry: (event: AcmeRetryEvent) => log('warn', 'retrying a request to the CA', { step: 'acme', request: event.request, try: event.attempt, waitMs: event.waitMs, cause: event.cause }),
        onAnswer: (date: string | undefined, receivedAt: Date) => void (skew ??= judgeClockSkew(date, receivedAt, config.skewAllowanceMs)),
      };
      const { AcmeIssuer, createAcmeClient } = await acmeModule;
      const acmeIssuer = new AcmeIssuer(createAcmeClient({ directoryUrl: config.directoryUrl, directory: await clock.directory.document(), accountKeyPem: keyPem, ...config.acme, retry }), { minMs: config.acme.pollMinMs, issuanceFirstMs: config.acme.pollIssuanceFirstMs, maxMs: config.acme.pollMaxMs, attempts: config.acme.pollAttempts, now: clock.now });
      const { accountUrl, record, contactUpdated } = await acmeIssuer.registerAccount(contactFor(config.contactEmail), parseAccountRecord(await recordText));
      if (record) await store.writeAccountRecord(formatAccountRecord(record)).catch((error: unknown) => log('warn', 'could not record the account\'s contact (the next run sets it again)', { step: 'account', reason: describeError(error) }));
      if (contactUpdated) log('info', 'updated the account contact', { step: 'account', contact: config.contactEmail ?? '(none)' });
      const measured = skew as ClockSkew | null;
      if (measured?.problem) throw new Error(measured.problem);
      if (measured?.warning) log('warn', measured.warning, { step: 'account', skewSeconds: measured.skewMs / 1000 });
      log('info', 'ACME account ready', { step: 'account', accountUrl, ...(measured ? { clockSkewSeconds: measured.skewMs / 1000 } : {}) });
      return acmeIssuer;
    })();
    return issuer;
  };
}

function earliest(a: Date, b: Date): Date {
  return a < b ? a : b;
}

/** Returns the context of a watch: what is served (TLS, as the preflight resolves names) and the hosts' reports. */
export function buildWatchContext(config: RenewConfig, clients: { s3: S3Client }, log: Logger): WatchContext {
  return {
    store: new S3CertificateStore(clients.s3, config.certificatesBucket),
    served: new TlsServedProbe({ dnsServer: config.preflight.dnsServer, port: config.watch.port, timeoutMs: config.watch.timeoutMs }),
    log,
    now: () => new Date(),
    concurrency: Math.max(8, config.concurrency),
    mismatchGraceMs: config.watch.mismatchGraceMs,
    lapseFraction: config.watch.lapseFraction,
    hostStaleMs: config.watch.hostStaleMs,
  };
}

/** Returns the context for telling people: the topic ALARM_TOPIC_ARN names. */
export function buildTellContext(config: RenewConfig, clients: { s3: S3Client; sns: SNSClient }, log: Logger): TellContext {
  return {
    store: new S3CertificateStore(clients.s3, config.certificatesBucket),
    notifier: config.alarmTopicArn ? new SnsNotifier(clients.sns, config.alarmTopicArn) : null,
    log,
    now: () => new Date(),
    service: config.service,
  };
}

