/**
 * The stack the replica deployed into moto with `serverless deploy --stage local`: the resources the
 * template defines exist with its settings, and anonymous callers reach challenge objects only.
 * moto does not enforce list or write restrictions for anonymous callers: test/unit/template.test.ts
 * asserts those on the template.
 *
 * Also `serverless remove` and a new deploy, in a stage of its own: moto keeps what DeletionPolicy
 * Retain keeps and refuses a bucket name that exists, as AWS does.
 *
 * Not here: the cloudfront challenge mode. moto 5.2's CloudFormation does not model
 * AWS::CloudFront::Distribution or AWS::CloudFront::OriginAccessControl (a deploy of that mode ends
 * "complete" with neither created and no outputs), and moto's S3 does not enforce a public access
 * block or a bucket policy's service principal. What that mode must be is asserted on the packaged
 * template (test/unit/template.test.ts) and by cfn-lint (npm run package).
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { challengePrefix } from '../../scripts/replica/provision.js';
import { lifecycleRule, resolver, serverlessEnvironment, withoutTlsOnlyStatements, type Template } from '../../scripts/replica/stack.js';
import { replicaRepoRoot } from '../../scripts/replica/state.js';
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

/** Calls a moto JSON API (KMS) with one action. */
async function motoJson(service: string, target: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const authorization = `AWS4-HMAC-SHA256 Credential=test/20260101/${state.region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
  const response = await fetch(state.awsEndpoint, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${target}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Runs `serverless <command>` for `stage` against moto with `params`; resolves with its output, rejects with it. */
async function serverless(command: 'deploy' | 'remove', stage: string, params: Record<string, string>): Promise<string> {
  const env = serverlessEnvironment(state);
  const options = Object.entries(params).map(([name, value]) => `--param=${name}=${value}`);
  try {
    const { stdout, stderr } = await promisify(execFile)('npx', ['--no-install', 'serverless', command, '--stage', stage, ...options], { cwd: replicaRepoRoot, env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`serverless ${command} --stage ${stage}: ${stdout}${stderr}`, { cause: error });
  }
}

/** Returns the logical id → physical id of each resource of a stack in moto. */
async function stackResources(stackName: string): Promise<Map<string, string>> {
  const listing = await moto('cloudformation', '/', { Action: 'DescribeStackResources', StackName: stackName, Version: '2010-05-15' });
  const members = [...listing.matchAll(/<member>([\s\S]*?)<\/member>/g)].map((match) => match[1] ?? '');
  const field = (member: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(member)?.[1] ?? '';
  return new Map(members.map((member) => [field(member, 'LogicalResourceId'), field(member, 'PhysicalResourceId')]));
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
  const expected = ['CertificatesBucket', 'ChallengesBucket', 'RenewFunctionRole', 'RenewCertificatesPolicy', 'HostAgentPolicy', 'RenewLambdaFunction', 'RenewLogGroup', 'RenewEventsRuleSchedule1', 'RenewEventsRuleSchedule2', 'AlarmTopic', 'RenewQueue', 'RenewDeadLetterQueue', 'RenewWorkerRole', 'WorkerLambdaFunction', 'WorkerEventSourceMappingSQSRenewQueue'];

  assert.deepEqual(expected.filter((logicalId) => !deployed.has(logicalId)), []);
  assert.ok(!deployed.has('AlarmEmailSubscription'), 'no e-mail subscription without an address');
  assert.doesNotMatch(listing, /_FAILED/);
});

test('the deployed function has the template role, the template\'s reserved concurrency (none by default) and the KMS alias', async () => {
  const functionName = template.Resources.RenewLambdaFunction?.Properties?.FunctionName as string;
  const configuration = JSON.parse(await moto('lambda', `/2015-03-31/functions/${functionName}/configuration`)) as {
    Role: string;
    Environment: { Variables: Record<string, string> };
  };
  const concurrency = JSON.parse(await moto('lambda', `/2019-09-30/functions/${functionName}/concurrency`)) as { ReservedConcurrentExecutions?: number };

  assert.match(configuration.Role, /:role\/acme-certificates-local-RenewFunctionRole-/);
  assert.equal(configuration.Environment.Variables.ACCOUNT_KEY_KMS_KEY_ID, stack.kmsKeyAlias);
  assert.equal(configuration.Environment.Variables.CERTIFICATES_BUCKET, state.buckets.certificates);
  assert.equal(concurrency.ReservedConcurrentExecutions ?? null, null, 'no reservation: refused where the account quota is 10');
  assert.equal(configuration.Environment.Variables.CHECK_SCHEDULE, 'cron(35 4 * * ? *)');
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

test('after serverless remove the bucket and key stay; a new deploy fails on the bucket, and one with existingCertificatesBucket and existingStorageKeyArn uses both', async (t) => {
  const stage = `redeploy${randomBytes(3).toString('hex')}`;
  const names = { certificatesBucket: `acme-${stage}-certificates`, challengesBucket: `acme-${stage}-challenges` };
  const stackName = `acme-certificates-${stage}`;
  const kept = { Bucket: names.certificatesBucket, Key: 'example.com/status.json', Body: `{"kept":"${secret}"}` };
  const keys = new Set<string>();
  t.after(async () => {
    await serverless('remove', stage, names).catch(() => undefined);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: kept.Bucket })).catch(() => undefined);
    const objects = [...(versions?.Versions ?? []), ...(versions?.DeleteMarkers ?? [])].map(({ Key, VersionId }) => ({ Key, VersionId }));
    if (objects.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: kept.Bucket, Delete: { Objects: objects } }));
    await s3.send(new DeleteBucketCommand({ Bucket: kept.Bucket })).catch(() => undefined);
    for (const KeyId of keys) await motoJson('kms', 'TrentService.ScheduleKeyDeletion', { KeyId, PendingWindowInDays: 7 }).catch(() => undefined);
  });
  const keyIds = async () => ((await motoJson('kms', 'TrentService.ListKeys', {})).Keys as { KeyId: string }[]).map((key) => key.KeyId);
  const aliases = async () => ((await motoJson('kms', 'TrentService.ListAliases', {})).Aliases as { AliasName: string; TargetKeyId?: string }[]).filter((alias) => alias.AliasName === `alias/${stackName}`);

  await serverless('deploy', stage, names);
  const keyId = (await stackResources(stackName)).get('StorageKey') ?? '';
  keys.add(keyId);
  const encryption = await s3.send(new GetBucketEncryptionCommand({ Bucket: kept.Bucket }));
  const keyArn = encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID ?? '';
  await s3.send(new PutObjectCommand(kept));
  await serverless('remove', stage, names);

  assert.ok(keyArn.endsWith(`:key/${keyId}`), `the bucket names the stack's key: ${keyArn}`);
  assert.equal(await (await s3.send(new GetObjectCommand(kept))).Body?.transformToString(), kept.Body, 'the certificates bucket and its objects stay');
  assert.ok((await keyIds()).includes(keyId), 'the key stays');
  assert.deepEqual(await aliases(), [], 'the alias went with the stack');

  // The refused deploy has created a new key before the bucket failed (a key created by a failed
  // deploy is kept too): the keys that appeared meanwhile are this test's to delete.
  const keysBefore = await keyIds();
  const refused = await serverless('deploy', stage, names).then(() => 'deployed', (error: Error) => error.message);
  for (const id of await keyIds()) if (!keysBefore.includes(id)) keys.add(id);
  await serverless('remove', stage, names);

  assert.match(refused, /bucket name is not available|already exists/);

  const output = await serverless('deploy', stage, { ...names, existingCertificatesBucket: 'true', existingStorageKeyArn: keyArn });
  const resources = await stackResources(stackName);
  const functionName = `acme-certificates-${stage}-renew`;
  const configuration = JSON.parse(await moto('lambda', `/2015-03-31/functions/${functionName}/configuration`)) as { Role: string; Environment: { Variables: Record<string, string> } };
  // The grants both functions share (the key among them) are one managed policy (infra/renew-role.yml).
  const sharedPolicy = decodeURIComponent(/<Document>([^<]*)<\/Document>/.exec(await moto('iam', '/', { Action: 'GetPolicyVersion', PolicyArn: resources.get('RenewCertificatesPolicy') ?? '', VersionId: 'v1', Version: '2010-05-08' }))?.[1] ?? '');

  assert.match(output, /deployed/);
  assert.ok(!resources.has('CertificatesBucket') && !resources.has('StorageKey'), `no bucket and no key created: ${[...resources.keys()].join(', ')}`);
  assert.deepEqual((await aliases()).map((alias) => alias.TargetKeyId), [keyId], 'a new alias names the kept key');
  assert.equal(configuration.Environment.Variables.CERTIFICATES_BUCKET, kept.Bucket);
  assert.ok(sharedPolicy.includes(keyArn), 'the roles may use the kept key');
  assert.equal(await (await s3.send(new GetObjectCommand(kept))).Body?.transformToString(), kept.Body);
});
