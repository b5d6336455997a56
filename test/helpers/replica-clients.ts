/**
 * Clients and fresh resources on the running local replica, for integration tests.
 */

import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { readFileSync } from 'node:fs';
import { readReplicaState, type ReplicaState } from '../../scripts/replica/state.js';

export const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

export function replicaState(): ReplicaState {
  return readReplicaState();
}

export function s3Client(state: ReplicaState): S3Client {
  return new S3Client({ endpoint: state.awsEndpoint, region: state.region, forcePathStyle: true, credentials });
}

export function ssmClient(state: ReplicaState): SSMClient {
  return new SSMClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
}

export function stsClient(state: ReplicaState): STSClient {
  return new STSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
}

/** Returns a random lowercase label, for names no other test uses. */
export function uniqueLabel(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Creates a fresh private certificates bucket, so each test sees only its own domains. */
export async function createCertificatesBucket(s3: S3Client): Promise<string> {
  const bucket = uniqueLabel('certs-test');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  // Versioned, as the stack makes the certificates bucket (infra/storage.yml).
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  return bucket;
}

/** Creates the folder marker of `domain` (as the S3 console's "create folder"), and its config.json when given. */
export async function addDomainFolder(s3: S3Client, bucket: string, domain: string, config?: object): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${domain}/`, Body: new Uint8Array(0) }));
  if (config) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${domain}/config.json`, Body: JSON.stringify(config) }));
}

export async function getText(s3: S3Client, bucket: string, key: string): Promise<string | null> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await object.Body?.transformToString()) ?? '';
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return null;
    throw error;
  }
}

export async function putText(s3: S3Client, bucket: string, key: string, body: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from(body) }));
}

export async function listKeys(s3: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((item) => item.Key ?? '').sort();
}

/** Returns the PEM of Pebble's current issuing root. */
export function pebbleRoot(state: ReplicaState): string {
  return readFileSync(state.acme.rootsFile, 'utf8');
}
