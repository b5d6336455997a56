/**
 * The security properties of the packaged CloudFormation template (serverless.yml + infra/*.yml),
 * asserted on what `serverless package` produces, since moto enforces few of them.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { replicaRepoRoot } from '../../scripts/replica/state.js';
import { asList, createdResources, evaluate, grants, packagedTemplate, resourcesOfType, roleStatements, show, type Statement } from '../helpers/packaged-template.js';

const template = packagedTemplate('production');
const cloudfront = { ChallengeServing: 'cloudfront' };
const keptKeyArn = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const bucketArn = 'arn:aws:s3:::acme-certificates-production-certificates';
/** Every option an operator may set, as `--param` values. */
const everyOption = {
  reservedConcurrency: '1',
  checkFrequency: 'twice-daily',
  challengeServing: 'cloudfront',
  existingCertificatesBucket: 'true',
  existingStorageKeyArn: keptKeyArn,
  fanOut: 'always',
  workerConcurrency: '16',
  workerBatchSize: '10',
  workerTimeout: '900',
};
const { Resources: resources } = template;
const properties = (logicalId: string) => {
  const resource = resources[logicalId];
  assert.ok(resource, `template has no ${logicalId}`);
  return resource.Properties as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
};
const policyStatements = (logicalId: string): Statement[] => properties(logicalId).PolicyDocument.Statement as Statement[];
const functionProperties = properties('RenewLambdaFunction');
const environment = functionProperties.Environment.Variables as Record<string, unknown>;
const workerProperties = properties('WorkerLambdaFunction');

test('the certificates bucket blocks all public access, enforces ownership, keeps versions and encrypts with the stack key', () => {
  const bucket = properties('CertificatesBucket');

  assert.deepEqual(bucket.PublicAccessBlockConfiguration, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
  assert.deepEqual(bucket.OwnershipControls, { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
  assert.deepEqual(bucket.VersioningConfiguration, { Status: 'Enabled' });
  assert.deepEqual(evaluate(template, bucket.BucketEncryption.ServerSideEncryptionConfiguration, {}), [
    { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'StorageKey.Arn' }, BucketKeyEnabled: true },
  ]);
  assert.equal(bucket.BucketName, environment.CERTIFICATES_BUCKET);
  assert.equal(`arn:aws:s3:::${bucket.BucketName}`, bucketArn, 'the ARN the grants write from parameters names the stack\'s bucket');
});

test('the certificates bucket policy only denies requests without TLS, on the bucket and every object', () => {
  const statements = evaluate(template, policyStatements('CertificatesBucketPolicy'), {});

  assert.deepEqual(statements, [
    {
      Sid: 'DenyNonTlsRequests',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: [bucketArn, `${bucketArn}/*`],
      Condition: { Bool: { 'aws:SecureTransport': false } },
    },
  ]);
  assert.equal(evaluate(template, properties('CertificatesBucketPolicy').Bucket, {}), 'CertificatesBucket');
});

/** Returns the Allow statements of every bucket policy whose principal names anyone, for the given stack parameters. */
function publicStatements(parameters: Record<string, string>) {
  return Object.keys(resourcesOfType(template, 'AWS::S3::BucketPolicy')).flatMap((logicalId) =>
    (evaluate(template, policyStatements(logicalId), parameters) as Statement[])
      .filter((statement) => statement.Effect === 'Allow' && JSON.stringify(statement.Principal).includes('*'))
      .map((statement) => ({ bucket: evaluate(template, properties(logicalId).Bucket, parameters), statement })),
  );
}

test('the only public statement in the stack is anonymous s3:GetObject on the challenge prefix of the challenges bucket', () => {
  assert.equal(template.Parameters?.ChallengeServing?.Default, 'public-bucket');
  assert.deepEqual(publicStatements({}), [
    {
      bucket: 'ChallengesBucket',
      statement: { Sid: 'PublicReadAcmeChallenges', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'ChallengesBucket.Arn/.well-known/acme-challenge/*' },
    },
  ]);
  assert.equal((evaluate(template, policyStatements('ChallengesBucketPolicy'), {}) as Statement[]).length, 1, 'no list, no put, no other prefix');
});

test('the challenges bucket keeps ACLs blocked and disabled, uses SSE-S3, and expires challenges after a day', () => {
  const bucket = properties('ChallengesBucket');

  assert.deepEqual(evaluate(template, bucket.PublicAccessBlockConfiguration, {}), { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: false });
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
  assert.equal(evaluate(template, properties('StorageKeyAlias').TargetKeyId, {}), 'StorageKey.Arn');
  assert.equal(environment.ACCOUNT_KEY_KMS_KEY_ID, 'alias/acme-certificates-production');
});

/** Returns the renew function role's statements (its own and the shared policy's), for the given stack parameters. */
function renewRoleStatements(parameters: Record<string, string>): Statement[] {
  return roleStatements(template, 'RenewFunctionRole', parameters);
}

const viaS3AndSsm = ' if {"StringEquals":{"kms:ViaService":["s3.us-east-1.amazonaws.com","ssm.us-east-1.amazonaws.com"]}}';
/** What renewing a certificate takes, in either function: the shared policy's grants. */
const renewalGrants = [
  'kms:Decrypt on StorageKey.Arn' + viaS3AndSsm,
  'kms:Encrypt on StorageKey.Arn' + viaS3AndSsm,
  'kms:GenerateDataKey on StorageKey.Arn' + viaS3AndSsm,
  's3:DeleteObject on ChallengesBucket.Arn/.well-known/acme-challenge/*',
  `s3:DeleteObject on ${bucketArn}/*/renew.lock`,
  `s3:GetObject on ${bucketArn}/*`,
  `s3:GetObjectVersion on ${bucketArn}/*`,
  `s3:ListBucket on ${bucketArn}`,
  's3:PutObject on ChallengesBucket.Arn/.well-known/acme-challenge/*',
  `s3:PutObject on ${bucketArn}/*`,
  'sns:Publish on AlarmTopic',
  'ssm:GetParameter on arn:aws:ssm:us-east-1:123456789012:parameter/acme-certificates/production/account-key',
  'ssm:PutParameter on arn:aws:ssm:us-east-1:123456789012:parameter/acme-certificates/production/account-key',
];
const lambdaTrust = [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }];

test('the renew function role allows exactly the calls the function makes, each on its one resource', () => {
  const statements = renewRoleStatements({});

  assert.deepEqual(grants(statements), [
    ...renewalGrants,
    'logs:CreateLogStream on RenewLogGroup.Arn',
    'logs:PutLogEvents on RenewLogGroup.Arn',
    'sqs:SendMessage on RenewQueue.Arn',
  ].sort());
  assert.ok(statements.every((statement) => statement.Effect === 'Allow'));
  assert.deepEqual(properties('RenewFunctionRole').AssumeRolePolicyDocument.Statement, lambdaTrust);
  assert.equal(environment.ACCOUNT_KEY_PARAMETER, '/acme-certificates/production/account-key');
});

test('both functions\' roles hold the renewal grants through one managed policy; the renew role adds its log group and sending to the queue', () => {
  const shared = evaluate(template, policyStatements('RenewCertificatesPolicy'), {}) as Statement[];
  const ownGrants = (logicalId: string) => grants((evaluate(template, properties(logicalId).Policies, {}) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap((policy) => policy.PolicyDocument.Statement));

  assert.deepEqual(grants(shared), renewalGrants);
  for (const logicalId of ['RenewFunctionRole', 'RenewWorkerRole']) assert.deepEqual(properties(logicalId).ManagedPolicyArns, [{ Ref: 'RenewCertificatesPolicy' }], logicalId);
  assert.deepEqual(ownGrants('RenewFunctionRole'), ['logs:CreateLogStream on RenewLogGroup.Arn', 'logs:PutLogEvents on RenewLogGroup.Arn', 'sqs:SendMessage on RenewQueue.Arn']);
});

test('the worker role allows the renewal grants, its own log group, consuming the queue and sending deferred domains back to it, nothing else', () => {
  const statements = roleStatements(template, 'RenewWorkerRole', {});

  assert.deepEqual(grants(statements), [
    ...renewalGrants,
    'logs:CreateLogStream on WorkerLogGroup.Arn',
    'logs:PutLogEvents on WorkerLogGroup.Arn',
    'sqs:ChangeMessageVisibility on RenewQueue.Arn',
    'sqs:DeleteMessage on RenewQueue.Arn',
    'sqs:GetQueueAttributes on RenewQueue.Arn',
    'sqs:ReceiveMessage on RenewQueue.Arn',
    'sqs:SendMessage on RenewQueue.Arn',
  ].sort());
  assert.ok(statements.every((statement) => statement.Effect === 'Allow'));
  assert.ok(!grants(statements).some((grant) => grant.includes('RenewDeadLetterQueue')), 'the dead-letter queue is SQS\'s to fill and people\'s to read');
  assert.deepEqual(properties('RenewWorkerRole').AssumeRolePolicyDocument.Statement, lambdaTrust);
});

test('each function runs as its own role, and the framework generates no role of its own', () => {
  assert.deepEqual(functionProperties.Role, { 'Fn::Sub': '${RenewFunctionRole.Arn}' });
  assert.deepEqual(workerProperties.Role, { 'Fn::Sub': '${RenewWorkerRole.Arn}' });
  assert.deepEqual(Object.keys(resourcesOfType(template, 'AWS::IAM::Role')).sort(), ['RenewFunctionRole', 'RenewWorkerRole']);
});

test('the log groups, whose Arns the roles grant, belong to the functions and have a retention', () => {
  for (const [logGroupId, fn] of [['RenewLogGroup', functionProperties], ['WorkerLogGroup', workerProperties]] as const) {
    const logGroup = properties(logGroupId);

    assert.equal(logGroup.LogGroupName, `/aws/lambda/${fn.FunctionName}`, logGroupId);
    assert.equal(logGroup.RetentionInDays, 90, logGroupId);
  }
});

test('the host agent policy allows listing and reading the certificates bucket and decrypting through S3, nothing else', () => {
  const statements = evaluate(template, policyStatements('HostAgentPolicy'), {}) as Statement[];

  assert.deepEqual(grants(statements), [
    'kms:Decrypt on StorageKey.Arn if {"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}',
    'kms:GenerateDataKey on StorageKey.Arn if {"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}',
    `s3:GetObject on ${bucketArn}/*`,
    `s3:GetObjectVersion on ${bucketArn}/*`,
    `s3:ListBucket on ${bucketArn}`,
    `s3:PutObject on ${bucketArn}/.host-report.\${aws:userid}.*`,
  ]);
  assert.equal(template.Parameters?.HostDomainPrefixes?.Default, '*');
  assert.deepEqual(Object.keys(resourcesOfType(template, 'AWS::IAM::ManagedPolicy')).sort(), ['HostAgentPolicy', 'RenewCertificatesPolicy']);
});

test('scoped to some domain folders, the host policy lists and reads only those', () => {
  const statements = evaluate(template, policyStatements('HostAgentPolicy'), { HostDomainPrefixes: 'example.com,example.org' }) as Statement[];

  assert.deepEqual(grants(statements), [
    'kms:Decrypt on StorageKey.Arn if {"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}',
    'kms:GenerateDataKey on StorageKey.Arn if {"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}',
    `s3:GetObject on ${bucketArn}/example.com/*`,
    `s3:GetObject on ${bucketArn}/example.org/*`,
    `s3:GetObjectVersion on ${bucketArn}/example.com/*`,
    `s3:GetObjectVersion on ${bucketArn}/example.org/*`,
    `s3:ListBucket on ${bucketArn} if {"StringLike":{"s3:prefix":["example.com/*","example.org/*"]}}`,
    `s3:PutObject on ${bucketArn}/.host-report.\${aws:userid}.*`,
  ]);
});

/** True when an Allow statement without a condition grants `action` on `arn` (a * in its resource matching anything). */
function allows(statements: Statement[], action: string, arn: string): boolean {
  const matches = (pattern: string) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^$()|[\]\\{}]/g, '\\$&')).join('.*')}$`).test(arn);
  return statements.some((statement) => statement.Effect === 'Allow' && !statement.Condition && asList(statement.Action).includes(action) && asList(statement.Resource).some((resource) => matches(show(resource))));
}

test('the bucket manifest: the renew function lists the bucket and reads and writes it, every host reads it, a host scoped to some folders does not', () => {
  const manifestArn = `${bucketArn}/.manifest.json`;
  const renew = roleStatements(template, 'RenewFunctionRole', {});
  const host = evaluate(template, policyStatements('HostAgentPolicy'), {}) as Statement[];
  const scoped = evaluate(template, policyStatements('HostAgentPolicy'), { HostDomainPrefixes: 'example.com,example.org' }) as Statement[];

  assert.ok(allows(renew, 's3:ListBucket', bucketArn), 'the listing it is built from');
  assert.ok(allows(renew, 's3:GetObject', manifestArn));
  assert.ok(allows(renew, 's3:PutObject', manifestArn));
  assert.ok(allows(host, 's3:GetObject', manifestArn), 'the first read of a host\'s run');
  assert.ok(!allows(host, 's3:PutObject', manifestArn), 'no host writes it');
  assert.ok(!allows(scoped, 's3:GetObject', manifestArn), 'it names every folder: a host scoped to some (--domains) lists its own instead');
  assert.ok(allows(scoped, 's3:GetObject', `${bucketArn}/example.com/status.json`), 'the matcher itself: a scoped host reads its folders');
});

test('no IAM grant in the stack has a wildcard action or a wildcard resource', () => {
  const identityPolicies = [
    ...Object.keys(resourcesOfType(template, 'AWS::IAM::Role')).flatMap((logicalId) => roleStatements(template, logicalId, {})),
    ...(evaluate(template, policyStatements('HostAgentPolicy'), {}) as Statement[]),
  ];

  for (const statement of identityPolicies) {
    for (const action of asList(statement.Action)) assert.ok(!action.includes('*'), `action ${action}`);
    for (const resource of asList(statement.Resource)) assert.notEqual(show(resource), '*', `${statement.Sid}: resource *`);
  }
});

/** Returns each schedule rule as [expression, input]. */
function scheduleRules(packaged = template): string[][] {
  return Object.values(resourcesOfType(packaged, 'AWS::Events::Rule')).map((rule) => [rule.Properties.ScheduleExpression as string, JSON.stringify((rule.Properties.Targets as { Input?: string }[])[0]?.Input ?? '')]);
}

test('the schedule event and the function read the same expression; a daily check run feeds the missed-run alarm; an hourly run only watches', () => {
  assert.deepEqual(scheduleRules(), [['cron(5 3 15 * ? *)', '"{}"'], ['cron(35 4 * * ? *)', '"{}"'], ['cron(50 * * * ? *)', JSON.stringify('{"mode":"watch"}')]]);
  assert.equal(environment.SCHEDULE, 'cron(5 3 15 * ? *)');
  assert.equal(environment.CHECK_SCHEDULE, 'cron(35 4 * * ? *)');
});

test('the function reaches the stack\'s own alarm topic', () => {
  assert.deepEqual(environment.ALARM_TOPIC_ARN, { Ref: 'AlarmTopic' });
  assert.equal(environment.SERVICE_NAME, 'acme-certificates-production');
  assert.equal(environment.NODE_OPTIONS, '--enable-source-maps', 'stack frames name the .ts sources');
});

test('each stuck state has an alarm to the topic: backlog, a lapsing served certificate, a mismatch, an unreachable name, a host at fault', () => {
  const alarm = (id: string) => properties(id);
  const metricOf = (id: string) => alarm(id).MetricName ?? (alarm(id).Metrics as { MetricStat?: { Metric: { MetricName: string } } }[]).flatMap((metric) => (metric.MetricStat ? [metric.MetricStat.Metric.MetricName] : [])).join('+');

  assert.deepEqual(['BacklogAlarm', 'ServedLifetimeAlarm', 'ServedMismatchAlarm', 'ServedUnreachableAlarm', 'HostsAlarm'].map(metricOf), ['Backlog', 'ServedLifetimeLeft', 'ServedMismatch', 'ServedUnreachable', 'StaleHosts+HostsBehind+HostFailures']);
  assert.deepEqual([alarm('ServedLifetimeAlarm').ComparisonOperator, Number(alarm('ServedLifetimeAlarm').Threshold)], ['LessThanThreshold', 0.25]);
  assert.equal(String(environment.SERVED_LAPSE_FRACTION), '0.25', 'the message and the alarm use one threshold');
  for (const id of ['BacklogAlarm', 'ServedLifetimeAlarm', 'ServedMismatchAlarm', 'ServedUnreachableAlarm', 'HostsAlarm']) assert.deepEqual(alarm(id).AlarmActions, [{ Ref: 'AlarmTopic' }], id);
});

test('no reserved concurrency by default (refused where the account quota is 10), and no automatic retry of a failed run', () => {
  assert.ok(!('ReservedConcurrentExecutions' in functionProperties), 'ReservedConcurrentExecutions is left out');
  assert.equal(properties('RenewLambdaEvConf').MaximumRetryAttempts, 0);
});

test('the function environment holds plain values, and the topic and queue references serverless invoke local resolves from the stack', () => {
  const references: Record<string, unknown> = { ALARM_TOPIC_ARN: { Ref: 'AlarmTopic' }, RENEW_QUEUE_URL: { Ref: 'RenewQueue' } };

  for (const [name, value] of Object.entries(environment)) {
    if (name in references) assert.deepEqual(value, references[name], name);
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

test('behind CloudFront the challenges bucket blocks all public access and has no public statement', () => {
  const bucket = properties('ChallengesBucket');

  assert.deepEqual(evaluate(template, bucket.PublicAccessBlockConfiguration, cloudfront), { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
  assert.deepEqual(publicStatements(cloudfront), []);
});

test('behind CloudFront only the stack\'s distribution reads the challenge prefix, and only over TLS', () => {
  const statements = evaluate(template, policyStatements('ChallengesBucketPolicy'), cloudfront) as Statement[];

  assert.deepEqual(statements, [
    {
      Sid: 'DenyNonTlsRequests',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: ['ChallengesBucket.Arn', 'ChallengesBucket.Arn/*'],
      Condition: { Bool: { 'aws:SecureTransport': false } },
    },
    {
      Sid: 'CloudFrontReadsAcmeChallenges',
      Effect: 'Allow',
      Principal: { Service: 'cloudfront.amazonaws.com' },
      Action: 's3:GetObject',
      Resource: 'ChallengesBucket.Arn/.well-known/acme-challenge/*',
      Condition: { StringEquals: { 'AWS:SourceArn': 'arn:aws:cloudfront::123456789012:distribution/ChallengeDistribution' } },
    },
  ]);
});

test('the distribution reads the bucket with origin access control (SigV4, always) and caches nothing, not even an error', () => {
  const control = evaluate(template, properties('ChallengeOriginAccessControl'), cloudfront) as { OriginAccessControlConfig: Record<string, string> };
  const distribution = (evaluate(template, properties('ChallengeDistribution'), cloudfront) as { DistributionConfig: Record<string, any> }).DistributionConfig; // eslint-disable-line @typescript-eslint/no-explicit-any

  assert.deepEqual([control.OriginAccessControlConfig.OriginAccessControlOriginType, control.OriginAccessControlConfig.SigningBehavior, control.OriginAccessControlConfig.SigningProtocol], ['s3', 'always', 'sigv4']);
  assert.deepEqual(distribution.Origins, [
    { Id: 'challenges', DomainName: 'ChallengesBucket.RegionalDomainName', OriginAccessControlId: 'ChallengeOriginAccessControl.Id', S3OriginConfig: { OriginAccessIdentity: '' } },
  ]);
  assert.equal(distribution.DefaultCacheBehavior.TargetOriginId, 'challenges');
  assert.equal(distribution.DefaultCacheBehavior.CachePolicyId, '4135ea2d-6df8-44a3-9df3-4b5a84be39ad', 'the managed CachingDisabled policy');
  assert.equal(distribution.DefaultCacheBehavior.ViewerProtocolPolicy, 'allow-all', 'nginx may proxy over http or https');
  assert.deepEqual(distribution.DefaultCacheBehavior.AllowedMethods, ['GET', 'HEAD']);
  assert.deepEqual(distribution.CustomErrorResponses, [{ ErrorCode: 403, ErrorCachingMinTTL: 0 }, { ErrorCode: 404, ErrorCachingMinTTL: 0 }]);
  assert.equal(distribution.Enabled, true);
});

test('the hosts\' challenge origin is the distribution behind CloudFront, the bucket\'s S3 URL otherwise', () => {
  const origin = template.Outputs?.ChallengeOrigin?.Value;

  assert.equal(evaluate(template, origin, {}), 'https://s3.us-east-1.amazonaws.com/ChallengesBucket');
  assert.equal(evaluate(template, origin, cloudfront), 'https://ChallengeDistribution.DomainName');
  assert.equal(template.Outputs?.ChallengeDistributionDomainName?.Condition, 'ServeChallengesThroughCloudFront');
});

test('the two challenge modes differ only in the challenges bucket, its policy and the CloudFront resources', () => {
  const publicBucket = createdResources(template, {});
  const behindCloudFront = createdResources(template, cloudfront);
  const differing = behindCloudFront.filter((logicalId) => JSON.stringify(evaluate(template, resources[logicalId], {})) !== JSON.stringify(evaluate(template, resources[logicalId], cloudfront)));

  assert.deepEqual(behindCloudFront.filter((logicalId) => !publicBucket.includes(logicalId)), ['ChallengeOriginAccessControl', 'ChallengeDistribution']);
  assert.deepEqual(publicBucket.filter((logicalId) => !behindCloudFront.includes(logicalId)), []);
  assert.deepEqual(differing.filter((logicalId) => publicBucket.includes(logicalId)), ['ChallengesBucket', 'ChallengesBucketPolicy']);
  assert.deepEqual(renewRoleStatements(cloudfront), renewRoleStatements({}));
});

test('with a kept certificates bucket the stack creates none, and every grant and the TLS-only policy name the kept one', () => {
  const kept = { ExistingCertificatesBucket: 'true' };

  assert.equal(template.Parameters?.ExistingCertificatesBucket?.Default, 'false');
  assert.ok(createdResources(template, {}).includes('CertificatesBucket'));
  assert.ok(!createdResources(template, kept).includes('CertificatesBucket'));
  assert.equal(evaluate(template, properties('CertificatesBucketPolicy').Bucket, kept), 'acme-certificates-production-certificates');
  assert.deepEqual(renewRoleStatements(kept), renewRoleStatements({}));
  assert.deepEqual(evaluate(template, policyStatements('HostAgentPolicy'), kept), evaluate(template, policyStatements('HostAgentPolicy'), {}));
  assert.equal(evaluate(template, template.Outputs?.CertificatesBucketName?.Value, kept), 'acme-certificates-production-certificates');
});

test('with a kept KMS key the stack creates none: the alias, the bucket, the role and the host policy use the kept one', () => {
  const kept = { ExistingStorageKeyArn: keptKeyArn };
  const keyGrants = (statements: Statement[]) => statements.filter((statement) => asList(statement.Action).some((action) => action.startsWith('kms:'))).map((statement) => statement.Resource);

  assert.ok(!createdResources(template, kept).includes('StorageKey'));
  assert.ok(createdResources(template, kept).includes('StorageKeyAlias'), 'the removed stack took its alias along: the new one names the kept key');
  assert.equal(evaluate(template, properties('StorageKeyAlias').TargetKeyId, kept), keptKeyArn);
  assert.equal((evaluate(template, properties('CertificatesBucket').BucketEncryption, kept) as { ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: { KMSMasterKeyID: string } }[] }).ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault.KMSMasterKeyID, keptKeyArn);
  assert.deepEqual(keyGrants(renewRoleStatements(kept)), [keptKeyArn]);
  assert.deepEqual(keyGrants(evaluate(template, policyStatements('HostAgentPolicy'), kept) as Statement[]), [keptKeyArn]);
  assert.equal(evaluate(template, template.Outputs?.StorageKeyArn?.Value, kept), keptKeyArn);
});

test('every option set as an operator deploys it: a reservation, the twice-daily check, CloudFront, the kept bucket and key', () => {
  const options = packagedTemplate('production', everyOption);
  const renew = options.Resources.RenewLambdaFunction?.Properties as { ReservedConcurrentExecutions?: number; Environment: { Variables: Record<string, string> } };

  assert.equal(renew.ReservedConcurrentExecutions, 1);
  assert.equal(renew.Environment.Variables.CHECK_SCHEDULE, 'cron(35 4,16 * * ? *)');
  assert.deepEqual(scheduleRules(options).map(([expression]) => expression), ['cron(5 3 15 * ? *)', 'cron(35 4,16 * * ? *)', 'cron(50 * * * ? *)']);
  assert.deepEqual(
    ['ChallengeServing', 'ExistingCertificatesBucket', 'ExistingStorageKeyArn'].map((name) => options.Parameters?.[name]?.Default),
    ['cloudfront', 'true', keptKeyArn],
  );
});

test('the check run, daily or twice daily, gives the missed-run alarm a datapoint in every daily period', () => {
  const missed = properties('RenewMissedRunAlarm');
  const twiceDaily = packagedTemplate('production', everyOption).Resources.RenewLambdaFunction?.Properties.Environment as { Variables: Record<string, string> };
  const runsPerDay = (expression: string) => {
    const [, , hours, dayOfMonth, month, dayOfWeek] = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$/.exec(expression) ?? [];
    assert.deepEqual([dayOfMonth, month, dayOfWeek], ['*', '*', '?'], `${expression} runs every day`);
    return hours?.split(',').length;
  };

  assert.equal(missed.Period, 86400);
  assert.equal(runsPerDay(environment.CHECK_SCHEDULE as string), 1);
  assert.equal(runsPerDay(twiceDaily.Variables.CHECK_SCHEDULE ?? ''), 2);
});

test('the worker reads the renew function\'s settings: fan-out on auto, the queue, and Let\'s Encrypt\'s order budget', () => {
  const workerEnvironment = workerProperties.Environment.Variables as Record<string, unknown>;

  assert.deepEqual(workerEnvironment, environment);
  assert.deepEqual(
    [environment.FAN_OUT, environment.FAN_OUT_DOMAIN_SECONDS, environment.RENEW_QUEUE_URL, environment.ORDER_BUDGET_ORDERS, environment.ORDER_BUDGET_WINDOW_MINUTES],
    ['auto', '20', { Ref: 'RenewQueue' }, '300', '180'],
  );
  assert.equal(workerProperties.Handler, 'dist/renew/worker.handler');
  assert.equal(workerProperties.Timeout, 300);
});

/** Returns the one event source mapping of a packaged template. */
function eventSourceMapping(packaged = template): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const mappings = Object.values(resourcesOfType(packaged, 'AWS::Lambda::EventSourceMapping'));
  assert.equal(mappings.length, 1);
  return mappings[0]?.Properties as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

test('the worker takes the queue one domain at a time, at most workerConcurrency at once, and answers for each message', () => {
  const mapping = eventSourceMapping();

  assert.deepEqual(mapping.EventSourceArn, { 'Fn::GetAtt': ['RenewQueue', 'Arn'] });
  assert.deepEqual(mapping.FunctionName, { 'Fn::GetAtt': ['WorkerLambdaFunction', 'Arn'] });
  assert.equal(mapping.Enabled, true);
  assert.equal(mapping.BatchSize, 1);
  assert.deepEqual(mapping.ScalingConfig, { MaximumConcurrency: 4 });
  assert.deepEqual(mapping.FunctionResponseTypes, ['ReportBatchItemFailures']);
});

test('the queue hides a delivered message for 6 worker timeouts, sends it to the dead-letter queue after 5 deliveries, and encrypts both', () => {
  const queue = properties('RenewQueue');
  const deadLetter = properties('RenewDeadLetterQueue');

  assert.equal(queue.VisibilityTimeout, 6 * workerProperties.Timeout);
  assert.deepEqual(queue.RedrivePolicy, { deadLetterTargetArn: { 'Fn::GetAtt': ['RenewDeadLetterQueue', 'Arn'] }, maxReceiveCount: 5 });
  assert.ok(deadLetter.MessageRetentionPeriod > queue.MessageRetentionPeriod, 'a message keeps its first enqueue time in the dead-letter queue');
  assert.deepEqual([queue.MessageRetentionPeriod, deadLetter.MessageRetentionPeriod], [4 * 86400, 14 * 86400]);
  for (const encrypted of [queue, deadLetter]) assert.equal(encrypted.SqsManagedSseEnabled, true);
  assert.deepEqual(template.Outputs?.RenewQueueUrl?.Value, { Ref: 'RenewQueue' });
  assert.deepEqual(template.Outputs?.RenewDeadLetterQueueUrl?.Value, { Ref: 'RenewDeadLetterQueue' });
});

test('every worker timeout the parameter allows gives the queue six times it', () => {
  const serverlessYml = readFileSync(join(replicaRepoRoot, 'serverless.yml'), 'utf8');
  const table = /^ {2}workerVisibilityTimeouts:\n((?: {4}'\d+': \d+\n)+)/m.exec(serverlessYml)?.[1] ?? '';
  const entries = [...table.matchAll(/'(\d+)': (\d+)/g)].map(([, timeout, visibility]) => [Number(timeout), Number(visibility)]);

  assert.ok(entries.length >= 4, 'custom.workerVisibilityTimeouts lists the timeouts');
  for (const [timeout, visibility] of entries) assert.equal(visibility, 6 * (timeout ?? 0), `workerTimeout ${timeout}`);
  assert.ok(entries.some(([timeout]) => timeout === 900), 'Lambda\'s longest timeout is among them');
});

test('alarms to the topic: a message in the dead-letter queue, a queue the workers do not take, a domain the worker failed, a worker error', () => {
  const alarm = (id: string) => properties(id);
  const watched = (id: string) => [alarm(id).Namespace, alarm(id).MetricName, alarm(id).Dimensions, alarm(id).ComparisonOperator, alarm(id).Threshold];

  assert.deepEqual(watched('RenewDeadLetterAlarm'), ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['RenewDeadLetterQueue', 'QueueName'] } }], 'GreaterThanOrEqualToThreshold', 1]);
  assert.deepEqual(watched('RenewQueueAgeAlarm'), ['AWS/SQS', 'ApproximateAgeOfOldestMessage', [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['RenewQueue', 'QueueName'] } }], 'GreaterThanOrEqualToThreshold', 6 * 3600]);
  assert.deepEqual(watched('WorkerFailedAlarm'), ['AcmeCertificates', 'Failed', [{ Name: 'Function', Value: { Ref: 'WorkerLambdaFunction' } }], 'GreaterThanOrEqualToThreshold', 1]);
  assert.deepEqual(watched('WorkerErrorsAlarm'), ['AWS/Lambda', 'Errors', [{ Name: 'FunctionName', Value: { Ref: 'WorkerLambdaFunction' } }], 'GreaterThanOrEqualToThreshold', 1]);
  for (const id of ['RenewDeadLetterAlarm', 'RenewQueueAgeAlarm', 'WorkerFailedAlarm', 'WorkerErrorsAlarm']) {
    assert.deepEqual(alarm(id).AlarmActions, [{ Ref: 'AlarmTopic' }], id);
    assert.equal(alarm(id).TreatMissingData, 'notBreaching', `${id}: no data is an idle queue or worker`);
  }
});

test('the fan-out options deploy as set: every run hands over, 16 workers of 10 domains, a 15-minute worker with a 90-minute visibility timeout', () => {
  const options = packagedTemplate('production', everyOption);
  const worker = options.Resources.WorkerLambdaFunction?.Properties as { Timeout: number; Environment: { Variables: Record<string, string> } };
  const mapping = eventSourceMapping(options);

  assert.equal(worker.Environment.Variables.FAN_OUT, 'always');
  assert.deepEqual([mapping.ScalingConfig, mapping.BatchSize], [{ MaximumConcurrency: 16 }, 10]);
  assert.equal(worker.Timeout, 900);
  assert.equal(options.Resources.RenewQueue?.Properties.VisibilityTimeout, 5400);
});
