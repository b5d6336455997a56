import { randomBytes } from 'node:crypto';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { applyBucketSettings, deployStack, disableEventSourceMappings, stackResources } from './stack.js';
import type { ReplicaState } from './state.js';

/** The public prefix of the challenge bucket: the only keys anyone may read anonymously. */
export const challengePrefix = '.well-known/acme-challenge/';

/** Returns fresh bucket names for one replica run (valid S3 names, 3–63 characters). */
export function newBucketNames(): ReplicaState['buckets'] {
  const suffix = randomBytes(3).toString('hex');
  return { certificates: `acme-certs-local-${suffix}`, challenges: `acme-challenges-local-${suffix}` };
}

/** Returns an S3 client for the replica's moto endpoint. */
export function replicaS3Client(state: Pick<ReplicaState, 'awsEndpoint' | 'region'>): S3Client {
  return new S3Client({
    endpoint: state.awsEndpoint,
    region: state.region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

/**
 * Creates the AWS resources production has, from the same definitions: deploys the Serverless stack
 * (KMS key, buckets, roles, schedules, functions, queues) into moto, then applies the bucket
 * settings moto's CloudFormation does not, and disables the event source mapping moto would run its
 * own way (see stack.ts). Records the queues in `state.stack`. The account key parameter is left to
 * the function.
 */
export async function provisionResources(state: ReplicaState): Promise<void> {
  const stack = state.stack;
  if (!stack) throw new Error('provisioning: the replica state names no stack');
  const template = await deployStack(state, stack.packageDir, stack.logFile);
  const s3 = replicaS3Client(state);
  try {
    await applyBucketSettings(s3, template, state.region);
  } catch (error) {
    throw new Error(`provisioning buckets ${state.buckets.certificates} and ${state.buckets.challenges}: ${(error as Error).message}`, { cause: error });
  } finally {
    s3.destroy();
  }
  const clientConfig = { endpoint: state.awsEndpoint, region: state.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  const cloudFormation = new CloudFormationClient(clientConfig);
  const lambda = new LambdaClient(clientConfig);
  try {
    const resources = await stackResources(cloudFormation, stack.name);
    await disableEventSourceMappings(lambda, resources);
    const queueUrl = (logicalId: string): string => {
      const queue = resources.get(logicalId);
      if (queue?.type !== 'AWS::SQS::Queue') throw new Error(`stack ${stack.name} has no queue ${logicalId}`);
      return queue.physicalId;
    };
    stack.queues = { renew: queueUrl('RenewQueue'), deadLetter: queueUrl('RenewDeadLetterQueue') };
  } catch (error) {
    throw new Error(`provisioning the fan-out of stack ${stack.name}: ${(error as Error).message}`, { cause: error });
  } finally {
    cloudFormation.destroy();
    lambda.destroy();
  }
}
