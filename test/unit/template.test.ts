/**
 * The security properties of the packaged CloudFormation template (serverless.yml + infra/*.yml),
 * asserted on what `serverless package` produces, since moto enforces few of them.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { replicaRepoRoot } from '../../scripts/replica/state.js';
import { asList, evaluate, grants, packagedTemplate, resourcesOfType, show, type Statement } from '../helpers/packaged-template.js';

const template = packagedTemplate('production');
const { Resources: resources } = template;
const properties = (logicalId: string) => {
  const resource = resources[logicalId];
  assert.ok(resource, `template has no ${logicalId}`);
  return resource.Properties as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
};
const policyStatements = (logicalId: string): Statement[] => properties(logicalId).PolicyDocument.Statement as Statement[];
const functionProperties = properties('RenewLambdaFunction');
const environment = functionProperties.Environment.Variables as Record<string, unknown>;

test('the certificates bucket blocks all public access, enforces ownership, keeps versions and encrypts with the stack key', () => {
  const bucket = properties('CertificatesBucket');

  assert.deepEqual(bucket.PublicAccessBlockConfiguration, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
  assert.deepEqual(bucket.OwnershipControls, { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
  assert.deepEqual(bucket.VersioningConfiguration, { Status: 'Enabled' });
  assert.deepEqual(bucket.BucketEncryption.ServerSideEncryptionConfiguration, [
    { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': ['StorageKey', 'Arn'] } }, BucketKeyEnabled: true },
  ]);
  assert.equal(bucket.BucketName, environment.CERTIFICATES_BUCKET);
});

test('the certificates bucket policy only denies requests without TLS, on the bucket and every object', () => {
  const statements = policyStatements('CertificatesBucketPolicy');

  assert.deepEqual(statements, [
    {
      Sid: 'DenyNonTlsRequests',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: [{ 'Fn::GetAtt': ['CertificatesBucket', 'Arn'] }, { 'Fn::Sub': '${CertificatesBucket.Arn}/*' }],
      Condition: { Bool: { 'aws:SecureTransport': false } },
    },
  ]);
  assert.deepEqual(properties('CertificatesBucketPolicy').Bucket, { Ref: 'CertificatesBucket' });
});

test('the only public statement in the stack is anonymous s3:GetObject on the challenge prefix of the challenges bucket', () => {
  const publicStatements = Object.entries(resourcesOfType(template, 'AWS::S3::BucketPolicy')).flatMap(([logicalId]) =>
    policyStatements(logicalId)
      .filter((statement) => statement.Effect === 'Allow' && JSON.stringify(statement.Principal).includes('*'))
      .map((statement) => ({ bucket: show(properties(logicalId).Bucket), statement })),
  );

  assert.deepEqual(publicStatements, [
    {
      bucket: 'ChallengesBucket',
      statement: { Sid: 'PublicReadAcmeChallenges', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: { 'Fn::Sub': '${ChallengesBucket.Arn}/.well-known/acme-challenge/*' } },
    },
  ]);
  assert.deepEqual(policyStatements('ChallengesBucketPolicy').length, 1, 'no list, no put, no other prefix');
});

test('the challenges bucket keeps ACLs blocked and disabled, uses SSE-S3, and expires challenges after a day', () => {
  const bucket = properties('ChallengesBucket');

  assert.deepEqual(bucket.PublicAccessBlockConfiguration, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: false });
  assert.deepEqual(bucket.OwnershipControls, { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
  assert.deepEqual(bucket.BucketEncryption.ServerSideEncryptionConfiguration, [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
  assert.deepEqual(bucket.LifecycleConfiguration.Rules[0], {
    Id: 'ExpireAcmeChallenges',
    Status: 'Enabled',
    Prefix: '.well-known/acme-challenge/',
    ExpirationInDays: 1,
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
  });
  assert.equal(bucket.BucketName, environment.CHALLENGES_BUCKET);
});

test('the KMS key rotates, and the function names it by the alias the stack creates', () => {
  assert.equal(properties('StorageKey').EnableKeyRotation, true);
  assert.equal(properties('StorageKeyAlias').AliasName, 'alias/acme-certificates-production');
  assert.deepEqual(properties('StorageKeyAlias').TargetKeyId, { Ref: 'StorageKey' });
  assert.equal(environment.ACCOUNT_KEY_KMS_KEY_ID, 'alias/acme-certificates-production');
});

test('the renew function role allows exactly the calls the function makes, each on its one resource', () => {
  const role = properties('RenewFunctionRole');
  const statements = role.Policies.flatMap((policy: { PolicyDocument: { Statement: Statement[] } }) => policy.PolicyDocument.Statement) as Statement[];
  const viaS3AndSsm = ' if {"StringEquals":{"kms:ViaService":["s3.${AWS::Region}.amazonaws.com","ssm.${AWS::Region}.amazonaws.com"]}}';

  assert.deepEqual(grants(statements), [
    'kms:Decrypt on StorageKey.Arn' + viaS3AndSsm,
    'kms:Encrypt on StorageKey.Arn' + viaS3AndSsm,
    'kms:GenerateDataKey on StorageKey.Arn' + viaS3AndSsm,
    'logs:CreateLogStream on RenewLogGroup.Arn',
    'logs:PutLogEvents on RenewLogGroup.Arn',
    's3:DeleteObject on ${CertificatesBucket.Arn}/*/renew.lock',
    's3:DeleteObject on ${ChallengesBucket.Arn}/.well-known/acme-challenge/*',
    's3:GetObject on ${CertificatesBucket.Arn}/*',
    's3:GetObjectVersion on ${CertificatesBucket.Arn}/*',
    's3:ListBucket on CertificatesBucket.Arn',
    's3:PutObject on ${CertificatesBucket.Arn}/*',
    's3:PutObject on ${ChallengesBucket.Arn}/.well-known/acme-challenge/*',
    'sns:Publish on AlarmTopic',
    'ssm:GetParameter on arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/acme-certificates/production/account-key',
    'ssm:PutParameter on arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/acme-certificates/production/account-key',
  ]);
  assert.ok(statements.every((statement) => statement.Effect === 'Allow'));
  assert.deepEqual(role.AssumeRolePolicyDocument.Statement, [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }]);
  assert.equal(environment.ACCOUNT_KEY_PARAMETER, '/acme-certificates/production/account-key');
});

test('the function runs as that role, and the framework generates no role of its own', () => {
  assert.deepEqual(functionProperties.Role, { 'Fn::Sub': '${RenewFunctionRole.Arn}' });
  assert.deepEqual(Object.keys(resourcesOfType(template, 'AWS::IAM::Role')), ['RenewFunctionRole']);
});

test('the log group, whose Arn the role grants, belongs to the function and has a retention', () => {
  const logGroup = properties('RenewLogGroup');

  assert.equal(logGroup.LogGroupName, `/aws/lambda/${functionProperties.FunctionName}`);
  assert.equal(logGroup.RetentionInDays, 90);
});

test('the host agent policy allows listing and reading the certificates bucket and decrypting through S3, nothing else', () => {
  const statements = evaluate(template, policyStatements('HostAgentPolicy'), {}) as Statement[];

  assert.deepEqual(grants(statements), [
    'kms:Decrypt on StorageKey.Arn if {"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}',
    'kms:GenerateDataKey on StorageKey.Arn if {"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}',
    's3:GetObject on CertificatesBucket.Arn/*',
    's3:GetObjectVersion on CertificatesBucket.Arn/*',
    's3:ListBucket on CertificatesBucket.Arn',
    's3:PutObject on CertificatesBucket.Arn/.host-report.${aws:userid}.*',
  ]);
  assert.equal(template.Parameters?.HostDomainPrefixes?.Default, '*');
  assert.deepEqual(Object.keys(resourcesOfType(template, 'AWS::IAM::ManagedPolicy')), ['HostAgentPolicy']);
});

test('scoped to some domain folders, the host policy lists and reads only those', () => {
  const statements = evaluate(template, policyStatements('HostAgentPolicy'), { HostDomainPrefixes: 'example.com,example.org' }) as Statement[];
  const bucketArn = 'arn:aws:s3:::acme-certificates-production-certificates';

  assert.deepEqual(grants(statements), [
    'kms:Decrypt on StorageKey.Arn if {"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}',
    'kms:GenerateDataKey on StorageKey.Arn if {"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}',
    `s3:GetObject on ${bucketArn}/example.com/*`,
    `s3:GetObject on ${bucketArn}/example.org/*`,
    `s3:GetObjectVersion on ${bucketArn}/example.com/*`,
    `s3:GetObjectVersion on ${bucketArn}/example.org/*`,
    's3:ListBucket on CertificatesBucket.Arn if {"StringLike":{"s3:prefix":["example.com/*","example.org/*"]}}',
    's3:PutObject on CertificatesBucket.Arn/.host-report.${aws:userid}.*',
  ]);
  assert.equal(properties('CertificatesBucket').BucketName, bucketArn.split(':::')[1], 'the ARN written from parameters names the stack\'s bucket');
});

test('no IAM grant in the stack has a wildcard action or a wildcard resource', () => {
  const identityPolicies = [
    ...properties('RenewFunctionRole').Policies.flatMap((policy: { PolicyDocument: { Statement: Statement[] } }) => policy.PolicyDocument.Statement),
    ...policyStatements('HostAgentPolicy'),
  ] as Statement[];

  for (const statement of identityPolicies) {
    for (const action of asList(statement.Action)) assert.ok(!action.includes('*'), `action ${action}`);
    for (const resource of asList(statement.Resource)) assert.notEqual(show(resource), '*', `${statement.Sid}: resource *`);
  }
});

test('the schedule event and the function read the same expression; a daily heartbeat run feeds the missed-run alarm; an hourly run only watches', () => {
  const rules = Object.values(resourcesOfType(template, 'AWS::Events::Rule')).map((rule) => [rule.Properties.ScheduleExpression, JSON.stringify((rule.Properties.Targets as { Input?: string }[])[0]?.Input ?? '')]);

  assert.deepEqual(rules, [['cron(5 3 15 * ? *)', '"{}"'], ['cron(35 4 * * ? *)', '"{}"'], ['cron(50 * * * ? *)', JSON.stringify('{"mode":"watch"}')]]);
  assert.equal(environment.SCHEDULE, 'cron(5 3 15 * ? *)');
});

test('the function reaches the stack\'s own alarm topic', () => {
  assert.deepEqual(environment.ALARM_TOPIC_ARN, { Ref: 'AlarmTopic' });
  assert.equal(environment.SERVICE_NAME, 'acme-certificates-production');
});

test('each stuck state has an alarm to the topic: backlog, a lapsing served certificate, a mismatch, an unreachable name, a host at fault', () => {
  const alarm = (id: string) => properties(id);
  const metricOf = (id: string) => alarm(id).MetricName ?? (alarm(id).Metrics as { MetricStat?: { Metric: { MetricName: string } } }[]).flatMap((metric) => (metric.MetricStat ? [metric.MetricStat.Metric.MetricName] : [])).join('+');

  assert.deepEqual(['BacklogAlarm', 'ServedLifetimeAlarm', 'ServedMismatchAlarm', 'ServedUnreachableAlarm', 'HostsAlarm'].map(metricOf), ['Backlog', 'ServedLifetimeLeft', 'ServedMismatch', 'ServedUnreachable', 'StaleHosts+HostsBehind+HostFailures']);
  assert.deepEqual([alarm('ServedLifetimeAlarm').ComparisonOperator, Number(alarm('ServedLifetimeAlarm').Threshold)], ['LessThanThreshold', 0.25]);
  assert.equal(String(environment.SERVED_LAPSE_FRACTION), '0.25', 'the message and the alarm use one threshold');
  for (const id of ['BacklogAlarm', 'ServedLifetimeAlarm', 'ServedMismatchAlarm', 'ServedUnreachableAlarm', 'HostsAlarm']) assert.deepEqual(alarm(id).AlarmActions, [{ Ref: 'AlarmTopic' }], id);
});

test('one instance at a time, with no automatic retry of a failed run', () => {
  assert.equal(functionProperties.ReservedConcurrentExecutions, 1);
  assert.equal(properties('RenewLambdaEvConf').MaximumRetryAttempts, 0);
});

test('the function environment holds plain values, and the topic reference serverless invoke local resolves from the stack', () => {
  for (const [name, value] of Object.entries(environment)) {
    if (name === 'ALARM_TOPIC_ARN') assert.deepEqual(value, { Ref: 'AlarmTopic' });
    else assert.equal(typeof value, 'string', name);
  }
});

test('an alarm fires on any function error, and one on no successful run within the alarm window, both to the topic', () => {
  const errors = properties('RenewErrorsAlarm');
  const missed = properties('RenewMissedRunAlarm');

  assert.deepEqual([errors.Namespace, errors.MetricName, errors.Dimensions], ['AWS/Lambda', 'Errors', [{ Name: 'FunctionName', Value: { Ref: 'RenewLambdaFunction' } }]]);
  assert.deepEqual([errors.ComparisonOperator, errors.Threshold, errors.TreatMissingData], ['GreaterThanOrEqualToThreshold', 1, 'notBreaching']);
  assert.deepEqual([missed.Namespace, missed.MetricName, missed.Dimensions], ['AcmeCertificates', 'RunSucceeded', [{ Name: 'Function', Value: { Ref: 'RenewLambdaFunction' } }]]);
  assert.deepEqual([missed.Statistic, missed.ComparisonOperator, missed.Threshold, missed.TreatMissingData], ['Maximum', 'LessThanThreshold', 1, 'breaching']);
  // CloudWatch evaluates at most 7 days; the daily heartbeat run must fit in the window at least once.
  assert.ok(missed.Period * missed.EvaluationPeriods <= 7 * 86400);
  assert.ok(missed.Period * missed.EvaluationPeriods >= 2 * 86400);
  for (const alarm of [errors, missed]) assert.deepEqual(alarm.AlarmActions, [{ Ref: 'AlarmTopic' }]);
  assert.equal(resources.AlarmEmailSubscription?.Condition, 'HasAlarmEmail');
});

test('each stage uses its ACME directory: Let\'s Encrypt production, Let\'s Encrypt staging with its roots, Pebble', () => {
  const env = (stage: string) => packagedTemplate(stage).Resources.RenewLambdaFunction?.Properties.Environment as { Variables: Record<string, string> };
  const stagingRoots = readFileSync(join(replicaRepoRoot, 'infra', 'letsencrypt-staging-roots.pem'), 'utf8');

  assert.equal(environment.ACME_DIRECTORY_URL, 'https://acme-v02.api.letsencrypt.org/directory');
  assert.equal(environment.TRUSTED_ROOTS, 'ISRG Root X1,ISRG Root X2');
  assert.equal(env('staging').Variables.ACME_DIRECTORY_URL, 'https://acme-staging-v02.api.letsencrypt.org/directory');
  assert.equal(env('staging').Variables.TRUSTED_ROOTS_PEM?.trim(), stagingRoots.trim());
  assert.match(env('local').Variables.ACME_DIRECTORY_URL ?? '', /^https:\/\/127\.0\.0\.1:\d+\/dir$/);
});

test('a stage with no settings of its own (dev) pairs Let\'s Encrypt staging with the staging roots', () => {
  const variables = (packagedTemplate('dev').Resources.RenewLambdaFunction?.Properties.Environment as { Variables: Record<string, string> }).Variables;
  const stagingRoots = readFileSync(join(replicaRepoRoot, 'infra', 'letsencrypt-staging-roots.pem'), 'utf8');

  assert.equal(variables.ACME_DIRECTORY_URL, 'https://acme-staging-v02.api.letsencrypt.org/directory');
  assert.equal(variables.TRUSTED_ROOTS_PEM?.trim(), stagingRoots.trim());
});
