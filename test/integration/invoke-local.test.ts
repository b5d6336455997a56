/**
 * `serverless invoke local -f renew` end to end: the Serverless Framework (osls) builds the bundle
 * with the project's esbuild plugin and runs the real handler against the local replica.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { addDomainFolder, createCertificatesBucket, getText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { replicaEnvironment } from '../helpers/renew-harness.js';
import { opensslNames } from '../helpers/openssl.js';
import { stackAlarmTopic } from '../helpers/topic.js';

const state = replicaState();
const s3 = s3Client(state);

function invokeLocal(bucket: string, data: object, options: string[] = []) {
  const env = {
    ...process.env,
    ...replicaEnvironment({ CERTIFICATES_BUCKET: bucket }),
    AWS_ENDPOINT_URL: state.awsEndpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: state.region,
    AWS_EC2_METADATA_DISABLED: 'true',
    SLS_TELEMETRY_DISABLED: '1',
  };
  return spawnSync('npx', ['serverless', 'invoke', 'local', '-f', 'renew', '--stage', 'local', '--data', JSON.stringify(data), ...options], { env, encoding: 'utf8', timeout: 240_000 });
}

test('serverless invoke local renews a domain through the real handler and reports each outcome', async () => {
  const bucket = await createCertificatesBucket(s3);
  const domain = `${uniqueLabel('invoke')}.test`;
  await addDomainFolder(s3, bucket, domain);

  const result = invokeLocal(bucket, { domains: [domain], force: true });

  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /"outcome": "renewed"/);
  // The metrics, as Embedded Metric Format log lines: the run's, and the watch's.
  const records = result.stdout.split('\n').filter((line) => line.startsWith('{"_aws"')).map((line) => JSON.parse(line) as Record<string, number>);
  assert.deepEqual(records.map((record) => [record.RunSucceeded, record.Renewed, record.Backlog]).filter(([succeeded]) => succeeded !== undefined), [[1, 1, 0]]);
  assert.ok(records.some((record) => typeof record.ServedLifetimeLeft === 'number' && record.StaleHosts === 0), 'the watch published its figures');
  assert.doesNotMatch(`${result.stdout}${result.stderr}`, /PRIVATE KEY/);
  const keyLines = ((await getText(s3, bucket, `${domain}/domain.key`)) ?? '').split('\n').filter((row) => /^[A-Za-z0-9+/=]{16,}$/.test(row));
  assert.ok(keyLines.length > 0 && keyLines.every((line) => !`${result.stdout}${result.stderr}`.includes(line)), 'no line of the domain key in the output');
  assert.deepEqual(opensslNames((await getText(s3, bucket, `${domain}/domain.crt`)) ?? ''), [domain, `www.${domain}`].sort());
});

test('serverless invoke local exits non-zero, naming the domain and step, when a domain fails', async () => {
  const bucket = await createCertificatesBucket(s3);
  const domain = `${uniqueLabel('badconfig')}.test`;
  await addDomainFolder(s3, bucket, domain, { keyType: 'dsa' });

  const topic = await stackAlarmTopic(state);

  const result = invokeLocal(bucket, {});
  const messages = await topic.received();

  assert.notEqual(result.status, 0);
  assert.match(`${result.stdout}${result.stderr}`, new RegExp(`${domain.replace(/\./g, '\\.')}: load: config\\.json \\\\"keyType\\\\" must be one of`));
  // serverless.yml gives the function the stack's topic (a Ref invoke local resolves from the deployed stack).
  assert.equal(messages.length, 1);
  assert.match(messages[0]?.message ?? '', new RegExp(`Failed renewals:\\n- ${domain.replace(/\./g, '\\.')}: load: config\\.json "keyType" must be one of`));
});

test('a configuration error reads as its class, with stack frames in the .ts sources', () => {
  // -e outranks serverless.yml; NODE_OPTIONS=--enable-source-maps comes from serverless.yml, as in Lambda.
  const result = invokeLocal(state.buckets.certificates, {}, ['-e', 'CONCURRENCY=many']);

  assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
  const error = JSON.parse(result.stdout.slice(result.stdout.indexOf('{\n    "errorMessage"'))) as { errorMessage: string; errorType: string; stackTrace: string[] };
  assert.equal(error.errorType, 'ConfigurationError');
  assert.match(error.errorMessage, /^environment variable CONCURRENCY must be an integer/);
  assert.ok(error.stackTrace.some((frame) => /\/functions\/renew\/config\.ts:\d+:\d+\)?$/.test(frame)), error.stackTrace.join('\n'));
  assert.ok(!error.stackTrace.some((frame) => /dist\/renew\/handler\.js/.test(frame)), error.stackTrace.join('\n'));
});
