/**
 * Read-only access to the certificates bucket for the host agent: the manifest, read with
 * If-None-Match; a listing when the run needs one; reads of the object versions status.json names,
 * or reads pinned to the listed ETag so a file replaced between the listing and the read is noticed.
 */

import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { domainFolderKey, MANIFEST_KEY } from '../core/layout.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import type { CertificateBucket, ListedObject, ManifestAnswer, ObjectRead } from '../workflows/sync-ports.js';
import { StorageError, errorName, isNotFound, isNotModified, isPreconditionFailed } from './aws-errors.js';

/** The object changed after it was listed; the next run will see the new one. */
export class ObjectChangedError extends Error {
  override readonly name = 'ObjectChangedError';
}

export class S3BucketReader implements CertificateBucket {
  private versionsDenied = false;

  constructor(
    private readonly s3: S3Client,
    readonly name: string,
    private readonly onNotice: (notice: string) => void = () => undefined,
  ) {}

  /**
   * Returns the manifest, or `unchanged` when it still has `etag` (a 304 to If-None-Match: one
   * request, no body), `missing` when there is none, `denied` when this identity may not read it.
   */
  async readManifest(etag: string | null): Promise<ManifestAnswer> {
    try {
      const result = await this.s3.send(new GetObjectCommand({ Bucket: this.name, Key: MANIFEST_KEY, ...(etag ? { IfNoneMatch: etag } : {}) }));
      return { kind: 'found', text: (await result.Body?.transformToString('utf8')) ?? '', etag: result.ETag ?? '' };
    } catch (error) {
      if (isNotModified(error)) return { kind: 'unchanged' };
      if (isNotFound(error)) return { kind: 'missing' };
      if (errorName(error).split(':')[0] === 'AccessDenied') return { kind: 'denied', reason: errorName(error) };
      throw new StorageError('reading', `s3://${this.name}/${MANIFEST_KEY}`, error);
    }
  }

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
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.name, ContinuationToken: token, ...(prefix ? { Prefix: prefix } : {}) })).catch((error: unknown) => {
        throw new StorageError('listing', `s3://${this.name}/${prefix}`, error);
      });
      for (const item of page.Contents ?? []) {
        if (item.Key !== undefined) objects.push({ key: item.Key, etag: item.ETag ?? '' });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  /**
   * Returns the text and ETag of the version asked for, or of the object as listed (throws
   * ObjectChangedError when it has changed since). A host policy from before versioned reads
   * (no s3:GetObjectVersion) is told once through `onNotice`, and the object as listed is read:
   * the digests in status.json still guard the pair.
   */
  async readObject(object: ObjectRead): Promise<{ text: string; etag: string }> {
    if (object.versionId && !this.versionsDenied) {
      try {
        return await this.get({ Key: object.key, VersionId: object.versionId });
      } catch (error) {
        if (errorName((error as Error).cause).split(':')[0] !== 'AccessDenied') throw error;
        this.versionsDenied = true;
        this.onNotice(`reading object versions is denied (the host policy lacks s3:GetObjectVersion: deploy the stack again); reading the current objects instead`);
      }
    }
    return this.get({ Key: object.key, ...(object.etag ? { IfMatch: object.etag } : {}) });
  }

  private async get(input: { Key: string; VersionId?: string; IfMatch?: string }): Promise<{ text: string; etag: string }> {
    try {
      const result = await this.s3.send(new GetObjectCommand({ Bucket: this.name, ...input }));
      return { text: (await result.Body?.transformToString('utf8')) ?? '', etag: result.ETag ?? '' };
    } catch (error) {
      if (isPreconditionFailed(error)) throw new ObjectChangedError(`s3://${this.name}/${input.Key} changed while syncing`);
      throw new StorageError('reading', `s3://${this.name}/${input.Key}${input.VersionId ? ` (version ${input.VersionId})` : ''}`, error);
    }
  }
}
