/**
 * The stack the replica deployed into moto with `serverless deploy --stage local`: the resources the
 * template defines exist with its settings, and anonymous callers reach challenge objects only.
 * moto does not enforce list or write restrictions for anonymous callers: test/unit/template.test.ts
 * asserts those on the template.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import {
  DeleteObjectCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { challengePrefix } from '../../scripts/replica/provision.js';
import { lifecycleRule, resolver, withoutTlsOnlyStatements, type Template } from '../../scripts/replica/stack.js';
import { replicaState, s3Client } from '../helpers/replica-clients.js';

const state = replicaState();
const stack = state.stack;
if (!stack) throw new Error('the replica state names no deployed stack: restart the replica');
const template = JSON.parse(readFileSync(stack.templateFile, 'utf8')) as Template;
const s3 = s3Client(state);
const motoPort = Number(new URL(state.awsEndpoint).port);

const token = randomBytes(24).toString('base64url');
const secret = `secret-${randomBytes(8).toString('hex')}`;
const domain = `stack-${randomBytes(4).toString('hex')}.test`;
const objects = {
  challenge: { Bucket: state.buckets.challenges, Key: `${challengePrefix}${token}`, Body: `${token}.thumbprint` },
  outsidePrefix: { Bucket: state.buckets.challenges, Key: `stack-test-${token}.txt`, Body: secret },
  certificate: { Bucket: state.buckets.certificates, Key: `${domain}/domain.crt`, Body: `certificate ${secret}` },
  key: { Bucket: state.buckets.certificates, Key: `${domain}/domain.key`, Body: `key ${secret}` },
};

/** Sends one unsigned HTTP request and returns status and body. */
function send(port: number, method: string, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

/** Calls a moto query or REST API for `service` (moto accepts any signature; only the scope names the service). */
async function moto(service: string, path: string, form?: Record<string, string>): Promise<string> {
  const authorization = `AWS4-HMAC-SHA256 Credential=test/20260101/${state.region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
  const response = await fetch(`${state.awsEndpoint}${path}`, {
    method: form ? 'POST' : 'GET',
    headers: { authorization, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  const text = await response.text();
  assert.ok(response.ok, `${service} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return text;
}

before(async () => {
  for (const object of Object.values(objects)) await s3.send(new PutObjectCommand(object));
});

after(async () => {
  for (const { Bucket, Key } of Object.values(objects)) await s3.send(new DeleteObjectCommand({ Bucket, Key }));
  s3.destroy();
});

test('serverless deploy created the stack in moto: buckets, role, host policy, function, schedules, topic', async () => {
  const listing = await moto('cloudformation', '/', { Action: 'DescribeStackResources', StackName: stack.name, Version: '2010-05-15' });
  const deployed = new Set([...listing.matchAll(/<LogicalResourceId>([^<]+)<\/LogicalResourceId>/g)].map((match) => match[1]));
  // moto's CloudFormation lists only the types it models (not bucket policies, alarms, KMS): those are asserted elsewhere.
  const expected = ['CertificatesBucket', 'ChallengesBucket', 'RenewFunctionRole', 'HostAgentPolicy', 'RenewLambdaFunction', 'RenewLogGroup', 'RenewEventsRuleSchedule1', 'RenewEventsRuleSchedule2', 'AlarmTopic'];

  assert.deepEqual(expected.filter((logicalId) => !deployed.has(logicalId)), []);
  assert.ok(!deployed.has('AlarmEmailSubscription'), 'no e-mail subscription without an address');
  assert.doesNotMatch(listing, /_FAILED/);
});

test('the deployed function has the template role, one reserved instance and the KMS alias', async () => {
  const functionName = template.Resources.RenewLambdaFunction?.Properties?.FunctionName as string;
  const configuration = JSON.parse(await moto('lambda', `/2015-03-31/functions/${functionName}/configuration`)) as {
    Role: string;
    Environment: { Variables: Record<string, string> };
  };
  const concurrency = JSON.parse(await moto('lambda', `/2019-09-30/functions/${functionName}/concurrency`)) as { ReservedConcurrentExecutions: number };

  assert.match(configuration.Role, /:role\/acme-certificates-local-RenewFunctionRole-/);
  assert.equal(configuration.Environment.Variables.ACCOUNT_KEY_KMS_KEY_ID, stack.kmsKeyAlias);
  assert.equal(configuration.Environment.Variables.CERTIFICATES_BUCKET, state.buckets.certificates);
  assert.equal(concurrency.ReservedConcurrentExecutions, 1);
});

test('the certificates bucket is encrypted with the stack key by CloudFormation, versioned and private', async () => {
  const Bucket = state.buckets.certificates;
  const encryption = await s3.send(new GetBucketEncryptionCommand({ Bucket }));
  const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket }));
  const block = await s3.send(new GetPublicAccessBlockCommand({ Bucket }));

  assert.equal(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'aws:kms');
  assert.match(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID ?? '', /^arn:aws:kms:us-east-1:\d{12}:key\//);
  assert.equal(versioning.Status, 'Enabled');
  assert.deepEqual(block.PublicAccessBlockConfiguration, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
});

test('the challenges bucket carries the template policy and lifecycle, resolved to its name', async () => {
  const Bucket = state.buckets.challenges;
  const resolve = resolver(template, state.region);
  const policy = await s3.send(new GetBucketPolicyCommand({ Bucket }));
  const lifecycle = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }));
  const challengesTemplate = template.Resources.ChallengesBucket?.Properties as { LifecycleConfiguration: { Rules: Parameters<typeof lifecycleRule>[0][] } };

  assert.deepEqual(JSON.parse(policy.Policy ?? ''), withoutTlsOnlyStatements(resolve(template.Resources.ChallengesBucketPolicy?.Properties?.PolicyDocument) as Parameters<typeof withoutTlsOnlyStatements>[0]));
  assert.deepEqual(JSON.parse(policy.Policy ?? '').Statement[0].Resource, `arn:aws:s3:::${Bucket}/.well-known/acme-challenge/*`);
  assert.deepEqual(
    lifecycle.Rules?.map(({ ID, Status, Filter, Expiration }) => ({ ID, Status, Filter, Expiration })),
    challengesTemplate.LifecycleConfiguration.Rules.map(lifecycleRule).map(({ ID, Status, Filter, Expiration }) => ({ ID, Status, Filter, Expiration })),
  );
});

test('an anonymous GET reads a challenge object', async () => {
  const response = await send(motoPort, 'GET', `/${objects.challenge.Bucket}/${objects.challenge.Key}`);

  assert.equal(response.status, 200);
  assert.equal(response.body, objects.challenge.Body);
});

for (const name of ['certificate', 'key', 'outsidePrefix'] as const) {
  test(`an anonymous GET of the ${name === 'outsidePrefix' ? 'challenges bucket outside the prefix' : name} is refused`, async () => {
    const { Bucket, Key } = objects[name];

    const response = await send(motoPort, 'GET', `/${Bucket}/${Key}`);

    assert.equal(response.status, 403);
    assert.ok(!response.body.includes(secret));
  });
}

test('through nginx a challenge object is served and a certificate or key path is not', async () => {
  const viaNginx = (path: string) => send(state.nginx.httpPort, 'GET', path, { Host: `${domain}` });

  const challenge = await viaNginx(`/.well-known/acme-challenge/${token}`);
  const attempts = await Promise.all([
    viaNginx(`/${objects.key.Bucket}/${objects.key.Key}`),
    viaNginx(`/${objects.key.Key}`),
    viaNginx(`/.well-known/acme-challenge/..%2F..%2F${objects.key.Bucket}%2F${encodeURIComponent(objects.key.Key)}`),
    viaNginx(`/.well-known/acme-challenge/${encodeURIComponent(objects.certificate.Key)}`),
  ]);

  assert.equal(challenge.status, 200);
  assert.equal(challenge.body, objects.challenge.Body);
  for (const response of attempts) {
    assert.notEqual(response.status, 200);
    assert.ok(!response.body.includes(secret), response.body);
  }
});
