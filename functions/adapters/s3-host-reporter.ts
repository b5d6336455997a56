/**
 * The host's report in the certificates bucket, written with the host's own identity: the key
 * starts with the identity's id (STS GetCallerIdentity's UserId), and the host policy lets each
 * identity write under its own id only (`.host-report.${aws:userid}.*`).
 */

import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { HostReporter } from '../workflows/sync-ports.js';
import { StorageError } from './aws-errors.js';

export class S3HostReporter implements HostReporter {
  private userId: Promise<string> | undefined;

  constructor(
    private readonly s3: S3Client,
    private readonly sts: STSClient,
    readonly bucket: string,
  ) {}

  /** Returns the id of the identity this host writes with (asked once per process). */
  identity(): Promise<string> {
    this.userId ??= this.sts.send(new GetCallerIdentityCommand({})).then(
      (answer) => {
        if (!answer.UserId) throw new Error('STS named no UserId');
        return answer.UserId;
      },
      (error: unknown) => {
        this.userId = undefined;
        throw new StorageError('asking STS who', 'this host is', error);
      },
    );
    return this.userId;
  }

  async write(key: string, text: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: text, ContentType: 'application/json' })).catch((error: unknown) => {
      throw new StorageError('writing', `s3://${this.bucket}/${key}`, error);
    });
  }
}
