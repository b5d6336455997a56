/**
 * The certificates bucket: domain folders, their files, and a per-domain renewal lock.
 */

import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ATTENTION_STATE_KEY, DomainFile, domainObjectKey, HOST_REPORTS_PREFIX, parseObjectKey, type DomainFileName } from '../core/layout.js';
import type { CertificateStore, HeldLock, IssuedDomainFiles, StoredDomainFiles } from '../workflows/ports.js';
import { StorageError, isNotFound, isPreconditionFailed } from './aws-errors.js';

export class S3CertificateStore implements CertificateStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  /** Returns the names of the top-level folders (unvalidated: the caller reports invalid ones). */
  async listFolders(): Promise<string[]> {
    const folders = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.s3
        .send(new ListObjectsV2Command({ Bucket: this.bucket, Delimiter: '/', ContinuationToken: token }))
        .catch((error: unknown) => {
          throw new StorageError('listing', `s3://${this.bucket}/`, error);
        });
      for (const prefix of page.CommonPrefixes ?? []) {
        const parsed = prefix.Prefix ? parseObjectKey(prefix.Prefix) : null;
        if (parsed) folders.add(parsed.folder);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return [...folders].sort();
  }

  /** Returns the text of the files in the folder of `domain` (absent files are null). */
  async readDomain(domain: string): Promise<StoredDomainFiles> {
    const [config, key, csr, fullChain, status] = await Promise.all([
      this.readText(domain, DomainFile.config),
      this.readText(domain, DomainFile.key),
      this.readText(domain, DomainFile.csr),
      this.readText(domain, DomainFile.fullChain),
      this.readText(domain, DomainFile.status),
    ]);
    return { config, key, csr, fullChain, status };
  }

  /**
   * Stores a renewal's files, then `status` last: status.json is the commit point, naming the
   * digest of every file, so a reader that sees a key and a certificate that do not belong
   * together (a renewal half-written) can tell and wait for the next run.
   */
  async writeIssued(domain: string, files: IssuedDomainFiles, status: string): Promise<void> {
    if (files.key !== undefined) await this.writeText(domain, DomainFile.key, files.key);
    await this.writeText(domain, DomainFile.csr, files.csr);
    await this.writeText(domain, DomainFile.signed, files.signed);
    await this.writeText(domain, DomainFile.intermediate, files.intermediate);
    await this.writeText(domain, DomainFile.fullChain, files.fullChain);
    await this.writeText(domain, DomainFile.status, status);
  }

  /** Replaces status.json alone (to record a failed attempt without touching the certificate). */
  async writeStatus(domain: string, status: string): Promise<void> {
    await this.writeText(domain, DomainFile.status, status);
  }

  /** Returns status.json's text and ETag, or null when there is none. */
  async readStatus(domain: string): Promise<{ text: string; etag: string } | null> {
    return this.readKey(domainObjectKey(domain, DomainFile.status));
  }

  /** Replaces status.json only if it still has `etag`; returns false when it changed meanwhile (someone else wrote it). */
  async writeStatusIfMatch(domain: string, status: string, etag: string): Promise<boolean> {
    const Key = domainObjectKey(domain, DomainFile.status);
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: status, IfMatch: etag, ContentType: 'application/json' }));
      return true;
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return false;
      throw new StorageError('writing', `s3://${this.bucket}/${Key}`, error);
    }
  }

  /** Creates the renewal lock of `domain` holding `body`, unless one exists (then null). S3 lets exactly one conditional writer win. */
  async createLock(domain: string, body: string): Promise<HeldLock | null> {
    const Key = domainObjectKey(domain, DomainFile.lock);
    try {
      const put = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, IfNoneMatch: '*', ContentType: 'application/json' }));
      return { domain, etag: put.ETag ?? '' };
    } catch (error) {
      if (isPreconditionFailed(error)) return null;
      throw new StorageError('locking', `s3://${this.bucket}/${Key}`, error);
    }
  }

  /** Returns the existing lock's text and ETag, or null when there is none (released meanwhile). */
  async readLock(domain: string): Promise<{ text: string; etag: string } | null> {
    return this.readKey(domainObjectKey(domain, DomainFile.lock));
  }

  /** Replaces the lock if it still has `etag` (a takeover); returns null when another run changed or removed it first. */
  async replaceLock(domain: string, etag: string, body: string): Promise<HeldLock | null> {
    const Key = domainObjectKey(domain, DomainFile.lock);
    try {
      const put = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, IfMatch: etag, ContentType: 'application/json' }));
      return { domain, etag: put.ETag ?? '' };
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return null;
      throw new StorageError('taking over lock', `s3://${this.bucket}/${Key}`, error);
    }
  }

  /** Releases a lock taken by createLock or replaceLock; a lock someone else took over meanwhile is left alone. */
  async releaseLock(lock: HeldLock): Promise<void> {
    const Key = domainObjectKey(lock.domain, DomainFile.lock);
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key, IfMatch: lock.etag }));
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return;
      throw new StorageError('releasing lock', `s3://${this.bucket}/${Key}`, error);
    }
  }

  /** Returns the hosts' reports: each key, and when S3 stored it (its own clock, not the host's). */
  async listHostReports(): Promise<{ key: string; storedAt: Date }[]> {
    const reports: { key: string; storedAt: Date }[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: HOST_REPORTS_PREFIX, ContinuationToken: token })).catch((error: unknown) => {
        throw new StorageError('listing', `s3://${this.bucket}/${HOST_REPORTS_PREFIX}*`, error);
      });
      for (const item of page.Contents ?? []) if (item.Key?.endsWith('.json')) reports.push({ key: item.Key, storedAt: item.LastModified ?? new Date(0) });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return reports.sort((a, b) => a.key.localeCompare(b.key));
  }

  /** Returns a host report's text (null: gone). */
  async readHostReport(key: string): Promise<string | null> {
    if (!key.startsWith(HOST_REPORTS_PREFIX)) throw new Error(`not a host report key: ${key.slice(0, 80)}`);
    return (await this.readKey(key))?.text ?? null;
  }

  /** Returns what the function last told people (null: nothing yet). */
  async readAttentionState(): Promise<string | null> {
    return (await this.readKey(ATTENTION_STATE_KEY))?.text ?? null;
  }

  async writeAttentionState(text: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: ATTENTION_STATE_KEY, Body: text, ContentType: 'application/json' })).catch((error: unknown) => {
      throw new StorageError('writing', `s3://${this.bucket}/${ATTENTION_STATE_KEY}`, error);
    });
  }

  private async readKey(Key: string): Promise<{ text: string; etag: string } | null> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      return { text: (await object.Body?.transformToString('utf8')) ?? '', etag: object.ETag ?? '' };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw new StorageError('reading', `s3://${this.bucket}/${Key}`, error);
    }
  }

  private async readText(domain: string, file: DomainFileName): Promise<string | null> {
    const Key = domainObjectKey(domain, file);
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      return (await object.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      if (isNotFound(error)) return null;
      throw new StorageError('reading', `s3://${this.bucket}/${Key}`, error);
    }
  }

  private async writeText(domain: string, file: DomainFileName, text: string): Promise<void> {
    const Key = domainObjectKey(domain, file);
    const ContentType = file.endsWith('.json') ? 'application/json' : 'application/x-pem-file';
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: text, ContentType })).catch((error: unknown) => {
      throw new StorageError('writing', `s3://${this.bucket}/${Key}`, error);
    });
  }
}

