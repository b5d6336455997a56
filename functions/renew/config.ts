/**
 * The renew function's configuration, read once from the environment. A missing or malformed value
 * fails the invocation before any work starts, naming the variable.
 */

import { ConfigurationError } from '../core/errors.js';
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
  concurrency: number;
  preflight: { port: number; dnsServer: string | undefined; timeoutMs: number };
  acme: { requestTimeoutMs: number; pollMinMs: number; pollMaxMs: number; pollAttempts: number };
  lockTtlMs: number;
  forcePathStyle: boolean;
}

export const DEFAULT_SCHEDULE = 'cron(5 3 15 * ? *)';
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
    concurrency: integer('CONCURRENCY', 4, 1, 64),
    preflight: {
      port: integer('PREFLIGHT_PORT', 80, 1, 65535),
      dnsServer: optional('PREFLIGHT_DNS_SERVER'),
      timeoutMs: integer('PREFLIGHT_TIMEOUT_MS', 5000, 100, 60000),
    },
    acme: {
      requestTimeoutMs: integer('ACME_TIMEOUT_MS', 30000, 1000, 300000),
      pollMinMs: integer('ACME_POLL_MIN_MS', 1000, 10, 60000),
      pollMaxMs: integer('ACME_POLL_MAX_MS', 10000, 10, 300000),
      pollAttempts: integer('ACME_POLL_ATTEMPTS', 12, 1, 100),
    },
    // At least the Lambda timeout (900 s): a lock must not expire while its holder still runs.
    lockTtlMs: integer('LOCK_TTL_SECONDS', 900, 900, 86400) * 1000,
    forcePathStyle: optional('S3_FORCE_PATH_STYLE') === 'true' || optional('AWS_ENDPOINT_URL') !== undefined,
  };
}
