import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
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
 * Creates the AWS resources production has, as production configures them: a private, versioned
 * certificates bucket, and a challenge bucket readable anonymously only under the challenge prefix,
 * whose objects there expire after a day. The account key parameter is left to the function.
 */
export async function provisionResources(state: ReplicaState): Promise<void> {
  const s3 = replicaS3Client(state);
  const { certificates, challenges } = state.buckets;
  try {
    await s3.send(new CreateBucketCommand({ Bucket: certificates }));
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: certificates,
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
      }),
    );
    await s3.send(new PutBucketVersioningCommand({ Bucket: certificates, VersioningConfiguration: { Status: 'Enabled' } }));

    await s3.send(new CreateBucketCommand({ Bucket: challenges }));
    // ACLs stay blocked; the one public grant is the bucket policy below.
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: challenges,
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: false },
      }),
    );
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: challenges,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'PublicReadAcmeChallenges',
              Effect: 'Allow',
              Principal: '*',
              Action: 's3:GetObject',
              Resource: `arn:aws:s3:::${challenges}/${challengePrefix}*`,
            },
          ],
        }),
      }),
    );
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: challenges,
        LifecycleConfiguration: {
          Rules: [{ ID: 'ExpireAcmeChallenges', Status: 'Enabled', Filter: { Prefix: challengePrefix }, Expiration: { Days: 1 } }],
        },
      }),
    );
  } catch (error) {
    throw new Error(`provisioning buckets ${certificates} and ${challenges}: ${(error as Error).message}`, { cause: error });
  } finally {
    s3.destroy();
  }
}
