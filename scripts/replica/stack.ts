/**
 * Deploys the production stack (serverless.yml + infra/*.yml, stage `local`) into moto, then applies
 * the bucket settings moto's CloudFormation skips, read from the same packaged template: one
 * definition of the buckets for production and the replica. Disables the SQS event source mapping
 * moto creates (the replica runs its own, event-source-mapping.ts), and finds the stack's queues.
 */

import { execFile } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { paginateListStackResources, type CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { UpdateEventSourceMappingCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  PutBucketLifecycleConfigurationCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { replicaRepoRoot, type ReplicaState } from './state.js';

/** The stack osls names for the `local` stage. */
export const localStackName = 'acme-certificates-local';

/** The template osls writes for a deploy, in the directory given to `--package`. */
export const templateFileName = 'cloudformation-template-update-stack.json';

export type Template = {
  Resources: Record<string, { Type: string; Condition?: string; Properties?: Record<string, unknown> }>;
  Parameters?: Record<string, { Default?: string }>;
  Conditions?: Record<string, unknown>;
};

/** moto's fixed account: what CloudFormation would put in `${AWS::AccountId}`. */
const motoAccountId = '123456789012';

/** The environment the Serverless Framework runs in against the replica's moto. */
export function serverlessEnvironment(state: ReplicaState): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL: state.awsEndpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: state.region,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    // osls polls CloudFormation every 5 s by default; moto finishes in well under one.
    SLS_AWS_MONITORING_FREQUENCY: '250',
  };
}

/**
 * Runs `serverless package` then `serverless deploy --stage local` against moto, with the replica's
 * bucket names, writing the artifacts and the framework's output under `packageDir`. Returns the
 * packaged template. Throws with the framework's output when either step fails.
 */
export async function deployStack(state: ReplicaState, packageDir: string, logFile: string): Promise<Template> {
  const env = {
    ...serverlessEnvironment(state),
    CERTIFICATES_BUCKET: state.buckets.certificates,
    CHALLENGES_BUCKET: state.buckets.challenges,
  };
  writeFileSync(logFile, '');
  for (const command of ['package', 'deploy']) {
    try {
      const { stdout, stderr } = await promisify(execFile)('npx', ['--no-install', 'serverless', command, '--stage', 'local', '--package', packageDir], {
        cwd: replicaRepoRoot,
        env,
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      appendFileSync(logFile, `$ serverless ${command}\n${stdout}${stderr}`);
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      appendFileSync(logFile, `$ serverless ${command}\n${stdout}${stderr}`);
      throw new Error(`serverless ${command} --stage local into moto failed (log: ${logFile}): ${lastLines(`${stdout}${stderr}`)}`, { cause: error });
    }
  }
  return JSON.parse(readFileSync(join(packageDir, templateFileName), 'utf8')) as Template;
}

/**
 * Returns each resource of stack `stackName` by logical id: its type and physical id (for a queue,
 * its URL). The replica reads the stack's resources, not its outputs: moto 5.2.1 keeps the outputs
 * a stack had before the change set osls deploys with (DescribeStacks shows none).
 */
export async function stackResources(cloudFormation: CloudFormationClient, stackName: string): Promise<Map<string, { type: string; physicalId: string }>> {
  const resources = new Map<string, { type: string; physicalId: string }>();
  for await (const page of paginateListStackResources({ client: cloudFormation }, { StackName: stackName })) {
    for (const { LogicalResourceId, ResourceType, PhysicalResourceId } of page.StackResourceSummaries ?? []) {
      if (LogicalResourceId && ResourceType && PhysicalResourceId) resources.set(LogicalResourceId, { type: ResourceType, physicalId: PhysicalResourceId });
    }
  }
  return resources;
}

/**
 * Disables every event source mapping among the stack's `resources` in moto, and returns their
 * UUIDs. moto runs a mapping its own way: on each SendMessage it receives the message at once
 * (raising its receive count) and invokes the function in Docker, one message at a time, ignoring
 * the batch size, the maximum concurrency and the partial batch response. On the replica the
 * mapping is scripts/replica/event-source-mapping.ts, run with the settings the template gives;
 * the stack's mapping stays, disabled, for what it declares.
 */
export async function disableEventSourceMappings(lambda: LambdaClient, resources: Map<string, { type: string; physicalId: string }>): Promise<string[]> {
  const uuids = [...resources.values()].filter(({ type }) => type === 'AWS::Lambda::EventSourceMapping').map(({ physicalId }) => physicalId);
  for (const UUID of uuids) await lambda.send(new UpdateEventSourceMappingCommand({ UUID, Enabled: false }));
  return uuids;
}

/**
 * Applies to each named bucket of `template` the settings moto's CloudFormation ignores (public access
 * block, ownership, versioning, lifecycle, bucket policy), as the template states them for its
 * parameters' defaults (a resource whose Condition is false is skipped), except the TLS-only
 * statement (see withoutTlsOnlyStatements). Encryption is left out: moto's CloudFormation applies it
 * itself.
 */
export async function applyBucketSettings(s3: S3Client, template: Template, region: string): Promise<void> {
  const resolve = resolver(template, region);
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const properties = resource.Properties ?? {};
    if (resource.Condition !== undefined && resolve({ Condition: resource.Condition }) !== true) continue;
    if (resource.Type === 'AWS::S3::Bucket' && properties.BucketName !== undefined) {
      const { PublicAccessBlockConfiguration, OwnershipControls, VersioningConfiguration, LifecycleConfiguration } = properties;
      const settings = resolve({ PublicAccessBlockConfiguration, OwnershipControls, VersioningConfiguration, LifecycleConfiguration }) as Record<string, unknown>;
      await applyBucketProperties(s3, resolve({ Ref: logicalId }) as string, settings);
    } else if (resource.Type === 'AWS::S3::BucketPolicy' && namesItsBucket(template, properties.Bucket)) {
      const Bucket = resolve(properties.Bucket) as string;
      const policy = withoutTlsOnlyStatements(resolve(properties.PolicyDocument) as PolicyDocument);
      if (policy.Statement.length > 0) await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: JSON.stringify(policy) }));
    }
  }
}

interface PolicyDocument {
  Version: string;
  Statement: { Effect: string; Condition?: { Bool?: Record<string, unknown> } }[];
}

/**
 * Returns `policy` without its deny-unless-TLS statements. The replica's S3 endpoint is plain HTTP,
 * and moto applies a bucket's Deny statements to every caller (it cannot see aws:SecureTransport),
 * so in the replica that statement would refuse everything; test/unit/template.test.ts asserts it.
 */
export function withoutTlsOnlyStatements(policy: PolicyDocument): PolicyDocument {
  const tlsOnly = (statement: PolicyDocument['Statement'][number]): boolean =>
    statement.Effect === 'Deny' && String(statement.Condition?.Bool?.['aws:SecureTransport']) === 'false';
  return { ...policy, Statement: policy.Statement.filter((statement) => !tlsOnly(statement)) };
}

/** False for the framework's own deployment bucket, which has no fixed name and holds only the zip. */
function namesItsBucket(template: Template, bucket: unknown): boolean {
  const logicalId = (bucket as { Ref?: string } | undefined)?.Ref;
  return logicalId !== undefined && template.Resources[logicalId]?.Properties?.BucketName !== undefined;
}

async function applyBucketProperties(s3: S3Client, Bucket: string, properties: Record<string, unknown>): Promise<void> {
  const { PublicAccessBlockConfiguration, OwnershipControls, VersioningConfiguration, LifecycleConfiguration } = properties as {
    PublicAccessBlockConfiguration?: Record<string, boolean>;
    OwnershipControls?: { Rules: { ObjectOwnership: 'BucketOwnerEnforced' }[] };
    VersioningConfiguration?: { Status: 'Enabled' | 'Suspended' };
    LifecycleConfiguration?: { Rules: CfnLifecycleRule[] };
  };
  if (PublicAccessBlockConfiguration) await s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration }));
  if (OwnershipControls) await s3.send(new PutBucketOwnershipControlsCommand({ Bucket, OwnershipControls }));
  if (VersioningConfiguration) await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration }));
  if (LifecycleConfiguration) {
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: LifecycleConfiguration.Rules.map(lifecycleRule) } }));
  }
}

/** The subset of CloudFormation's lifecycle rule shape that infra/storage.yml uses. */
interface CfnLifecycleRule {
  Id: string;
  Status: 'Enabled' | 'Disabled';
  Prefix?: string;
  ExpirationInDays?: number;
  ExpiredObjectDeleteMarker?: boolean;
  NoncurrentVersionExpiration?: { NoncurrentDays: number };
  AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number };
}

/** Returns the S3 API form of a CloudFormation lifecycle rule (the two spell it differently). */
export function lifecycleRule(rule: CfnLifecycleRule): LifecycleRule {
  const expiration =
    rule.ExpirationInDays !== undefined ? { Days: rule.ExpirationInDays } : rule.ExpiredObjectDeleteMarker !== undefined ? { ExpiredObjectDeleteMarker: rule.ExpiredObjectDeleteMarker } : undefined;
  return {
    ID: rule.Id,
    Status: rule.Status,
    Filter: { Prefix: rule.Prefix ?? '' },
    ...(expiration ? { Expiration: expiration } : {}),
    ...(rule.NoncurrentVersionExpiration ? { NoncurrentVersionExpiration: { NoncurrentDays: rule.NoncurrentVersionExpiration.NoncurrentDays } } : {}),
    ...(rule.AbortIncompleteMultipartUpload ? { AbortIncompleteMultipartUpload: rule.AbortIncompleteMultipartUpload } : {}),
  };
}

/**
 * Returns a function that evaluates the intrinsics the bucket resources use (Ref, Fn::GetAtt .Arn,
 * Fn::Sub, and Fn::If on the template's conditions, for its parameters' defaults) the way
 * CloudFormation would in moto's account; throws on anything else, so a template change that this
 * cannot follow fails loudly instead of applying a wrong policy.
 */
export function resolver(template: Template, region: string): (value: unknown) => unknown {
  const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': region, 'AWS::AccountId': motoAccountId };
  const bucketName = (logicalId: string): string => {
    const resource = template.Resources[logicalId];
    const name = resource?.Type === 'AWS::S3::Bucket' ? resource.Properties?.BucketName : undefined;
    if (typeof name !== 'string') throw new Error(`template: cannot resolve ${logicalId}: not a bucket with a BucketName`);
    return name;
  };
  const noValue = Symbol('AWS::NoValue');
  const reference = (name: string): string | symbol => {
    if (name === 'AWS::NoValue') return noValue;
    if (name in pseudo) return pseudo[name] as string;
    const parameter = template.Parameters?.[name];
    if (parameter) return parameter.Default ?? '';
    if (name.endsWith('.Arn')) return `arn:aws:s3:::${bucketName(name.slice(0, -4))}`;
    return bucketName(name);
  };
  const condition = (name: string): boolean => {
    if (!template.Conditions || !(name in template.Conditions)) throw new Error(`template: no condition ${name}`);
    return resolve(template.Conditions[name]) === true;
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve).filter((item) => item !== noValue);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key === 'Ref') return reference(argument as string);
    if (entries.length === 1 && key === 'Condition') return condition(argument as string);
    if (entries.length === 1 && key === 'Fn::GetAtt') return reference(`${(argument as string[])[0]}.${(argument as string[])[1]}`);
    if (entries.length === 1 && key === 'Fn::Sub' && typeof argument === 'string') return argument.replace(/\$\{([^}]+)\}/g, (_, name: string) => String(reference(name)));
    if (entries.length === 1 && key === 'Fn::If') {
      const [name, whenTrue, whenFalse] = argument as [string, unknown, unknown];
      return resolve(condition(name) ? whenTrue : whenFalse);
    }
    if (entries.length === 1 && key === 'Fn::Equals') return JSON.stringify(resolve((argument as unknown[])[0])) === JSON.stringify(resolve((argument as unknown[])[1]));
    if (entries.length === 1 && key === 'Fn::Not') return resolve((argument as unknown[])[0]) !== true;
    if (entries.length === 1 && key?.startsWith('Fn::')) throw new Error(`template: ${key} is not supported here`);
    return Object.fromEntries(entries.map(([name, item]) => [name, resolve(item)]).filter(([, item]) => item !== noValue));
  };
  return resolve;
}

function lastLines(text: string, count = 8): string {
  return text.trim().split('\n').slice(-count).join('\n');
}
