/**
 * The renew function's configuration, read once from the environment. A missing or malformed value
 * fails the invocation before any work starts, naming the variable.
 */

import { ConfigurationError } from '../core/errors.js';
import { parseFanOutMode, type FanOutMode } from '../core/fan-out.js';
import { LETS_ENCRYPT_ORDER_BUDGET, type OrderBudget } from '../core/order-budget.js';
import type { RetryPolicy } from '../core/retry.js';
import { parseSchedule, type Schedule } from '../core/schedule.js';
import { rootsFromPem, selectRootsByName } from '../core/trust.js';

export interface RenewConfig {
  certificatesBucket: string;
  challengesBucket: string;
  accountKeyParameter: string;
  accountKeyKmsKeyId: string | undefined;
  directoryUrl: string;
  contactEmail: string | undefined;
  trustedRoots: string[];
  schedule: Schedule;
  /** The daily (or twice-daily) check runs: they renew too, and ARI renews before the next of any run. */
  checkSchedule: Schedule;
  concurrency: number;
  /** `port` and `httpsPort`: where the CA's ports 80 and 443 are reached (other ports only on the replica). */
  preflight: { port: number; httpsPort: number; dnsServer: string | undefined; timeoutMs: number };
  acme: { requestTimeoutMs: number; pollMinMs: number; pollIssuanceFirstMs: number; pollMaxMs: number; pollAttempts: number };
  /** Retries of transient CA failures (core/retry.ts). */
  acmeRetry: RetryPolicy;
  /** How far a certificate's notBefore may lie ahead of this run's clock, and the most the clock may be off the CA's. */
  skewAllowanceMs: number;
  lockTtlMs: number;
  /** The AWS endpoint (AWS_ENDPOINT_URL: an emulator, or a proxy in front of one); the SDK's default when absent. */
  awsEndpoint: string | undefined;
  forcePathStyle: boolean;
  /** Watching what is served and what the hosts report. */
  watch: { port: number; timeoutMs: number; mismatchGraceMs: number; lapseFraction: number; hostStaleMs: number };
  /**
   * The new orders the account may place per window, over every run and worker (core/order-budget.ts;
   * ORDER_BUDGET_ORDERS, default Let's Encrypt's 300, per ORDER_BUDGET_WINDOW_MINUTES, default 180);
   * null with ORDER_BUDGET_ORDERS=0: no budget but the CA's own limits.
   */
  orderBudget: OrderBudget | null;
  /**
   * Fan-out to the worker function (core/fan-out.ts): FAN_OUT (off, auto, always), the queue
   * (RENEW_QUEUE_URL, required unless off) and how long one domain takes, for `auto`'s estimate
   * (FAN_OUT_DOMAIN_SECONDS, default 20: Let's Encrypt's validation, polls and the store).
   */
  fanOut: { mode: FanOutMode; queueUrl: string | null; perDomainMs: number };
  /** The topic people hear from: an ARN, or a name completed from the function's own ARN; null: none. */
  /** The SNS topic every run's message goes to (null: the log and the metrics are the only channel). */
  alarmTopicArn: string | null;
  /** How messages name the deployment, e.g. "acme-certificates-production". */
  service: string;
}

export const DEFAULT_SCHEDULE = 'cron(5 3 15 * ? *)';

function fanOut(mode: FanOutMode, queueUrl: string | null, perDomainMs: number): RenewConfig['fanOut'] {
  if (mode !== 'off' && !queueUrl) throw new ConfigurationError(`environment variable RENEW_QUEUE_URL is required with FAN_OUT=${mode}`);
  return { mode, queueUrl, perDomainMs };
}

function orderBudget(orders: number, windowMinutes: number): OrderBudget | null {
  return orders === 0 ? null : { limit: orders, windowMs: windowMinutes * 60_000 };
}
export const DEFAULT_CHECK_SCHEDULE = 'cron(35 4 * * ? *)';
export const DEFAULT_TRUSTED_ROOTS = 'ISRG Root X1,ISRG Root X2';

/** Returns the configuration in `env`; throws ConfigurationError naming the first bad variable. */
export function readRenewConfig(env: NodeJS.ProcessEnv, rootStore: readonly string[]): RenewConfig {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigurationError(`environment variable ${name} is required`);
    return value;
  };
  const optional = (name: string): string | undefined => env[name]?.trim() || undefined;
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const text = optional(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new ConfigurationError(`environment variable ${name} must be an integer from ${min} to ${max}`);
    return value;
  };
  const fraction = (name: string, fallback: number): number => {
    const text = optional(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0 || value >= 1) throw new ConfigurationError(`environment variable ${name} must be a number between 0 and 1 (a fraction of a certificate's lifetime)`);
    return value;
  };
  const topic = (arn: string | undefined): string | null => {
    if (!arn) return null;
    if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(arn)) throw new ConfigurationError('environment variable ALARM_TOPIC_ARN is not an SNS topic ARN');
    return arn;
  };
  const attempt = <T>(name: string, read: () => T): T => {
    try {
      return read();
    } catch (error) {
      throw new ConfigurationError(`environment variable ${name}: ${(error as Error).message}`);
    }
  };

  const rootsPem = optional('TRUSTED_ROOTS_PEM');
  const rootNames = (optional('TRUSTED_ROOTS') ?? DEFAULT_TRUSTED_ROOTS).split(',').map((name) => name.trim()).filter(Boolean);
  const directoryUrl = required('ACME_DIRECTORY_URL');
  if (!/^https:\/\//.test(directoryUrl)) throw new ConfigurationError('environment variable ACME_DIRECTORY_URL must be an https:// URL');
  const contactEmail = optional('ACME_CONTACT_EMAIL');
  if (contactEmail && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(contactEmail)) throw new ConfigurationError('environment variable ACME_CONTACT_EMAIL is not an e-mail address');
  return {
    certificatesBucket: required('CERTIFICATES_BUCKET'),
    challengesBucket: required('CHALLENGES_BUCKET'),
    accountKeyParameter: required('ACCOUNT_KEY_PARAMETER'),
    accountKeyKmsKeyId: optional('ACCOUNT_KEY_KMS_KEY_ID'),
    directoryUrl,
    contactEmail,
    trustedRoots: rootsPem ? attempt('TRUSTED_ROOTS_PEM', () => rootsFromPem(rootsPem)) : attempt('TRUSTED_ROOTS', () => selectRootsByName(rootStore, rootNames)),
    schedule: attempt('SCHEDULE', () => parseSchedule(optional('SCHEDULE') ?? DEFAULT_SCHEDULE)),
    checkSchedule: attempt('CHECK_SCHEDULE', () => parseSchedule(optional('CHECK_SCHEDULE') ?? DEFAULT_CHECK_SCHEDULE)),
    concurrency: integer('CONCURRENCY', 16, 1, 64),
    preflight: {
      port: integer('PREFLIGHT_PORT', 80, 1, 65535),
      httpsPort: integer('PREFLIGHT_HTTPS_PORT', 443, 1, 65535),
      dnsServer: optional('PREFLIGHT_DNS_SERVER'),
      timeoutMs: integer('PREFLIGHT_TIMEOUT_MS', 5000, 100, 60000),
    },
    acme: {
      requestTimeoutMs: integer('ACME_TIMEOUT_MS', 30000, 1000, 300000),
      // The first poll waits about as long as the CA took lately in the run (core/retry.ts
      // pollWaitMs), at least the minimum (for an issuance, its own shorter first wait).
      pollMinMs: integer('ACME_POLL_MIN_MS', 50, 10, 60000),
      pollIssuanceFirstMs: integer('ACME_POLL_ISSUANCE_FIRST_MS', 20, 1, 60000),
      pollMaxMs: integer('ACME_POLL_MAX_MS', 10000, 10, 300000),
      pollAttempts: integer('ACME_POLL_ATTEMPTS', 15, 1, 100),
    },
    skewAllowanceMs: integer('CLOCK_SKEW_ALLOWANCE_SECONDS', 3600, 0, 86_400) * 1000,
    acmeRetry: {
      attempts: integer('ACME_RETRY_ATTEMPTS', 8, 1, 20),
      baseMs: 1000,
      maxBackoffMs: 30_000,
      maxRetryAfterMs: integer('ACME_RETRY_MAX_WAIT_SECONDS', 120, 1, 600) * 1000,
      // Kept back for storing the certificate and telling people, however long a CA asks to wait.
      reserveMs: 120_000,
    },
    // How long a lock stands outside Lambda; in Lambda a lock stands for the invocation's time
    // left plus a minute (core/locks.ts), so a killed run frees its domains soon after its timeout.
    lockTtlMs: integer('LOCK_TTL_SECONDS', 900, 60, 86400) * 1000,
    forcePathStyle: optional('S3_FORCE_PATH_STYLE') === 'true' || optional('AWS_ENDPOINT_URL') !== undefined,
    awsEndpoint: optional('AWS_ENDPOINT_URL'),
    watch: {
      port: integer('SERVED_CHECK_PORT', 443, 1, 65535),
      timeoutMs: integer('SERVED_CHECK_TIMEOUT_MS', 5000, 100, 60000),
      mismatchGraceMs: integer('SERVED_MISMATCH_GRACE_MINUTES', 180, 1, 10080) * 60_000,
      lapseFraction: fraction('SERVED_LAPSE_FRACTION', 0.25),
      hostStaleMs: integer('HOST_STALE_MINUTES', 180, 5, 10080) * 60_000,
    },
    orderBudget: orderBudget(integer('ORDER_BUDGET_ORDERS', LETS_ENCRYPT_ORDER_BUDGET.limit, 0, 1_000_000), integer('ORDER_BUDGET_WINDOW_MINUTES', LETS_ENCRYPT_ORDER_BUDGET.windowMs / 60_000, 1, 10_080)),
    fanOut: fanOut(attempt('FAN_OUT', () => parseFanOutMode(optional('FAN_OUT'))), optional('RENEW_QUEUE_URL') ?? null, integer('FAN_OUT_DOMAIN_SECONDS', 20, 1, 900) * 1000),
    alarmTopicArn: topic(optional('ALARM_TOPIC_ARN')),
    service: optional('SERVICE_NAME') ?? 'acme-certificates',
  };
}
