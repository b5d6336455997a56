import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootCertificates } from 'node:tls';
import { ConfigurationError } from '../../functions/core/errors.js';
import { selectRootsByName } from '../../functions/core/trust.js';
import { readRenewConfig } from '../../functions/renew/config.js';

const requiredEnv = {
  CERTIFICATES_BUCKET: 'acme-certificates',
  CHALLENGES_BUCKET: 'acme-challenges',
  ACCOUNT_KEY_PARAMETER: '/acme/account-key',
  ACME_DIRECTORY_URL: 'https://acme-v02.api.letsencrypt.org/directory',
};
const letsEncryptRoots = selectRootsByName(rootCertificates, ['ISRG Root X1', 'ISRG Root X2']);
const testRootPem = rootCertificates[0] as string;
/** A few roots of node's store, with both Let's Encrypt roots: reading all 144 for each test takes seconds. */
const rootStore = [...rootCertificates.slice(0, 4), ...letsEncryptRoots];

test('reads the defaults when only the required variables are set', () => {
  const env = { ...requiredEnv };

  const config = readRenewConfig(env, rootStore);

  assert.deepEqual({ ...config, schedule: config.schedule.expression, checkSchedule: config.checkSchedule.expression }, {
    certificatesBucket: 'acme-certificates',
    challengesBucket: 'acme-challenges',
    accountKeyParameter: '/acme/account-key',
    accountKeyKmsKeyId: undefined,
    directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
    contactEmail: undefined,
    trustedRoots: letsEncryptRoots,
    schedule: 'cron(5 3 15 * ? *)',
    checkSchedule: 'cron(35 4 * * ? *)',
    concurrency: 16,
    preflight: { port: 80, httpsPort: 443, dnsServer: undefined, timeoutMs: 5000 },
    acme: { requestTimeoutMs: 30000, pollMinMs: 50, pollIssuanceFirstMs: 20, pollMaxMs: 10000, pollAttempts: 15 },
    acmeRetry: { attempts: 8, baseMs: 1000, maxBackoffMs: 30_000, maxRetryAfterMs: 120_000, reserveMs: 120_000 },
    skewAllowanceMs: 3_600_000,
    awsEndpoint: undefined,
    lockTtlMs: 900_000,
    orderBudget: { limit: 300, windowMs: 10_800_000 },
    fanOut: { mode: 'off', queueUrl: null, perDomainMs: 20_000 },
    forcePathStyle: false,
    watch: { port: 443, timeoutMs: 5000, mismatchGraceMs: 180 * 60_000, lapseFraction: 0.25, hostStaleMs: 180 * 60_000 },
    alarmTopicArn: null,
    service: 'acme-certificates',
  });
});

const read: { name: string; env: Record<string, string>; check: (config: ReturnType<typeof readRenewConfig>) => unknown; expected: unknown }[] = [
  { name: 'trims the values it reads', env: { CERTIFICATES_BUCKET: '  certs \n' }, check: (c) => c.certificatesBucket, expected: 'certs' },
  { name: 'reads the contact e-mail', env: { ACME_CONTACT_EMAIL: 'ops@a.test' }, check: (c) => c.contactEmail, expected: 'ops@a.test' },
  { name: 'reads the concurrency', env: { CONCURRENCY: '16' }, check: (c) => c.concurrency, expected: 16 },
  { name: 'reads the lock TTL in seconds', env: { LOCK_TTL_SECONDS: '1800' }, check: (c) => c.lockTtlMs, expected: 1_800_000 },
  { name: 'takes a lock TTL as short as a minute', env: { LOCK_TTL_SECONDS: '60' }, check: (c) => c.lockTtlMs, expected: 60_000 },
  { name: 'reads the alarm topic ARN', env: { ALARM_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:acme-alarms' }, check: (c) => c.alarmTopicArn, expected: 'arn:aws:sns:eu-west-1:123456789012:acme-alarms' },
  { name: 'reads how long a host may be silent', env: { HOST_STALE_MINUTES: '90' }, check: (c) => c.watch.hostStaleMs, expected: 5_400_000 },
  { name: 'reads the preflight port and DNS server', env: { PREFLIGHT_PORT: '5002', PREFLIGHT_DNS_SERVER: '127.0.0.1' }, check: (c) => c.preflight, expected: { port: 5002, httpsPort: 443, dnsServer: '127.0.0.1', timeoutMs: 5000 } },
  { name: 'reads the port the CA\'s 443 is reached at (the replica\'s)', env: { PREFLIGHT_HTTPS_PORT: '5443' }, check: (c) => c.preflight.httpsPort, expected: 5443 },
  { name: 'reads the schedule', env: { SCHEDULE: 'rate(1 day)' }, check: (c) => c.schedule, expected: { kind: 'rate', everyMs: 86_400_000, expression: 'rate(1 day)' } },
  { name: 'reads the check runs\' schedule (twice daily)', env: { CHECK_SCHEDULE: 'rate(12 hours)' }, check: (c) => c.checkSchedule, expected: { kind: 'rate', everyMs: 43_200_000, expression: 'rate(12 hours)' } },
  { name: 'selects trusted roots by name', env: { TRUSTED_ROOTS: ' ISRG Root X1 ' }, check: (c) => c.trustedRoots, expected: letsEncryptRoots.slice(0, 1) },
  { name: 'reads trusted roots from PEM', env: { TRUSTED_ROOTS_PEM: testRootPem }, check: (c) => c.trustedRoots, expected: [testRootPem.trim()] },
  { name: 'prefers trusted roots PEM over names', env: { TRUSTED_ROOTS_PEM: testRootPem, TRUSTED_ROOTS: 'No Such Root' }, check: (c) => c.trustedRoots, expected: [testRootPem.trim()] },
  { name: 'uses path-style S3 addresses when asked', env: { S3_FORCE_PATH_STYLE: 'true' }, check: (c) => c.forcePathStyle, expected: true },
  { name: 'uses path-style S3 addresses with a custom endpoint', env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }, check: (c) => c.forcePathStyle, expected: true },
];

for (const { name, env, check, expected } of read) {
  test(name, () => {
    const environment = { ...requiredEnv, ...env };

    const config = readRenewConfig(environment, rootStore);

    assert.deepEqual(check(config), expected);
  });
}

const missing = Object.keys(requiredEnv);
for (const variable of missing) {
  test(`refuses to start without ${variable}, naming it`, () => {
    const env: Record<string, string | undefined> = { ...requiredEnv, [variable]: undefined };

    const load = () => readRenewConfig(env, rootStore);

    assert.throws(load, (error: unknown) => error instanceof ConfigurationError && error.message === `environment variable ${variable} is required`);
  });
}

const refused: { name: string; env: Record<string, string>; message: RegExp }[] = [
  { name: 'refuses a required variable that is only spaces', env: { CHALLENGES_BUCKET: '   ' }, message: /CHALLENGES_BUCKET is required/ },
  { name: 'refuses a plain-HTTP directory URL', env: { ACME_DIRECTORY_URL: 'http://acme.test/dir' }, message: /ACME_DIRECTORY_URL must be an https:\/\/ URL/ },
  { name: 'refuses a contact that is not an e-mail address', env: { ACME_CONTACT_EMAIL: 'ops at a.test' }, message: /ACME_CONTACT_EMAIL is not an e-mail address/ },
  { name: 'refuses a concurrency of 0', env: { CONCURRENCY: '0' }, message: /CONCURRENCY must be an integer from 1 to 64/ },
  { name: 'refuses a concurrency above 64', env: { CONCURRENCY: '65' }, message: /CONCURRENCY must be an integer from 1 to 64/ },
  { name: 'refuses a fractional concurrency', env: { CONCURRENCY: '1.5' }, message: /CONCURRENCY must be an integer/ },
  { name: 'refuses a concurrency that is not a number', env: { CONCURRENCY: 'four' }, message: /CONCURRENCY must be an integer/ },
  { name: 'refuses a port above 65535', env: { PREFLIGHT_PORT: '70000' }, message: /PREFLIGHT_PORT must be an integer from 1 to 65535/ },
  { name: 'refuses a lock TTL shorter than a minute', env: { LOCK_TTL_SECONDS: '59' }, message: /LOCK_TTL_SECONDS must be an integer from 60 to 86400/ },
  { name: 'refuses a lifetime fraction that is not between 0 and 1', env: { SERVED_LAPSE_FRACTION: '33' }, message: /SERVED_LAPSE_FRACTION must be a number between 0 and 1/ },
  { name: 'refuses an alarm topic that is not an SNS ARN', env: { ALARM_TOPIC_ARN: 'arn:aws:sqs:us-east-1:123456789012:q' }, message: /ALARM_TOPIC_ARN is not an SNS topic ARN/ },
  { name: 'refuses a negative poll count', env: { ACME_POLL_ATTEMPTS: '-1' }, message: /ACME_POLL_ATTEMPTS must be an integer/ },
  { name: 'refuses an unknown fan-out mode', env: { FAN_OUT: 'sometimes' }, message: /FAN_OUT: "sometimes" is not a fan-out mode/ },
  { name: 'refuses fan-out without a queue', env: { FAN_OUT: 'always' }, message: /RENEW_QUEUE_URL is required with FAN_OUT=always/ },
  { name: 'refuses a malformed schedule, naming the variable and the expression', env: { SCHEDULE: 'cron(5 3 15 * ?)' }, message: /environment variable SCHEDULE: schedule "cron\(5 3 15 \* \?\)": cron needs 6 fields/ },
  { name: 'refuses a malformed check schedule, naming the variable', env: { CHECK_SCHEDULE: 'daily' }, message: /environment variable CHECK_SCHEDULE: schedule "daily"/ },
  { name: 'refuses a trusted root name that is not in the store', env: { TRUSTED_ROOTS: 'ISRG Root X1,No Such Root' }, message: /environment variable TRUSTED_ROOTS: trusted root "No Such Root" is not in the root store/ },
  { name: 'refuses trusted roots PEM without a certificate', env: { TRUSTED_ROOTS_PEM: 'not a pem' }, message: /environment variable TRUSTED_ROOTS_PEM: no certificate in the trusted roots PEM/ },
  // Roots that can verify nothing would make every stored certificate fail verification, and each run
  // would order a new certificate for every domain only to reject it at the verify step.
  { name: 'refuses TRUSTED_ROOTS that names no root', env: { TRUSTED_ROOTS: ' , ' }, message: /TRUSTED_ROOTS/ },
  { name: 'refuses TRUSTED_ROOTS_PEM whose certificate does not parse', env: { TRUSTED_ROOTS_PEM: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }, message: /TRUSTED_ROOTS_PEM/ },
];

for (const { name, env, message } of refused) {
  test(name, () => {
    const environment = { ...requiredEnv, ...env };

    const load = () => readRenewConfig(environment, rootStore);

    assert.throws(load, (error: unknown) => error instanceof ConfigurationError && message.test(error.message));
  });
}
