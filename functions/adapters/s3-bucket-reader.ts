/**
 * Read-only access to the certificates bucket for the host agent: one listing per run, and reads
 * pinned to the listed ETag so a file replaced between the listing and the read is noticed.
 */

import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { domainFolderKey } from '../core/layout.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import type { CertificateBucket, ListedObject } from '../workflows/sync-ports.js';
import { StorageError, isPreconditionFailed } from './aws-errors.js';

/** The object changed after it was listed; the next run will see the new one. */
export class ObjectChangedError extends Error {
  override readonly name = 'ObjectChangedError';
}

export class S3BucketReader implements CertificateBucket {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  /**
   * Returns every object of the bucket with its ETag (paginated), or with `domains` the objects of
   * those folders only: one listing per folder, which a host policy scoped to those folders allows.
   */
  async listObjects(domains?: readonly string[]): Promise<ListedObject[]> {
    if (!domains) return this.listPrefix('');
    return (await mapWithConcurrency(domains, 8, (domain) => this.listPrefix(domainFolderKey(domain)))).flat();
  }

  private async listPrefix(prefix: string): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, ContinuationToken: token, ...(prefix ? { Prefix: prefix } : {}) })).catch((error: unknown) => {
        throw new StorageError('listing', `s3://${this.bucket}/${prefix}`, error);
      });
      for (const item of page.Contents ?? []) {
        if (item.Key !== undefined) objects.push({ key: item.Key, etag: item.ETag ?? '' });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  /** Returns the text of the object as listed; throws ObjectChangedError when it has changed since. */
  async readText(object: ListedObject): Promise<string> {
    try {
      const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: object.key, IfMatch: object.etag || undefined }));
      return (await result.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      if (isPreconditionFailed(error)) throw new ObjectChangedError(`s3://${this.bucket}/${object.key} changed while syncing`);
      throw new StorageError('reading', `s3://${this.bucket}/${object.key}`, error);
    }
  }
}
