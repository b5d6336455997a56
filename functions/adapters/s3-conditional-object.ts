/**
 * One small object of the certificates bucket that several runs update (the order budget's ledger,
 * the bucket manifest): read with its ETag, written only if it is still the one read (If-Match; If-
 * None-Match * when there was none), so that of two writers the slower one learns it came second
 * instead of replacing the other's write.
 */

import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ConditionalObject } from '../workflows/ports.js';
import { StorageError, isNotFound, isPreconditionFailed } from './aws-errors.js';

export class S3ConditionalObject implements ConditionalObject {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly key: string,
  ) {}

  async read(): Promise<{ text: string; etag: string } | null> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key }));
      return { text: (await object.Body?.transformToString('utf8')) ?? '', etag: object.ETag ?? '' };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw new StorageError('reading', `s3://${this.bucket}/${this.key}`, error);
    }
  }

  /** Writes if the stored object still has `etag` (null: only if there is none); false when another writer came first. */
  async writeIfMatch(text: string, etag: string | null): Promise<boolean> {
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key, Body: text, ContentType: 'application/json', ...(etag === null ? { IfNoneMatch: '*' } : { IfMatch: etag }) }));
      return true;
    } catch (error) {
      // An object deleted since it was read fails If-Match with 404: another writer too.
      if (isPreconditionFailed(error) || (etag !== null && isNotFound(error))) return false;
      throw new StorageError('writing', `s3://${this.bucket}/${this.key}`, error);
    }
  }
}
