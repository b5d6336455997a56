/**
 * The certificates bucket: domain folders, their files, and a per-domain renewal lock.
 */

import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DomainFile, domainObjectKey, parseObjectKey, type DomainFileName } from '../core/layout.js';
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

  /**
   * Takes the renewal lock of `domain` with a conditional write, or takes over one whose holder
   * let it expire. Returns null when another run holds it. Safe against races: S3 conditional
   * writes let exactly one writer win.
   */
  async acquireLock(domain: string, owner: string, now: Date, ttlMs: number): Promise<HeldLock | null> {
    const Key = domainObjectKey(domain, DomainFile.lock);
    const Body = JSON.stringify({ owner, acquiredAt: now.toISOString(), expiresAt: new Date(now.getTime() + ttlMs).toISOString() });
    try {
      const put = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body, IfNoneMatch: '*', ContentType: 'application/json' }));
      return { domain, etag: put.ETag ?? '' };
    } catch (error) {
      if (!isPreconditionFailed(error)) throw new StorageError('locking', `s3://${this.bucket}/${Key}`, error);
    }
    const current = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key })).catch((error: unknown) => {
      if (isNotFound(error)) return null;
      throw new StorageError('reading lock', `s3://${this.bucket}/${Key}`, error);
    });
    if (!current) return this.acquireLock(domain, owner, now, ttlMs);
    const held = parseLock(await current.Body?.transformToString());
    if (held && held.expiresAt > now) return null;
    try {
      const put = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body, IfMatch: current.ETag, ContentType: 'application/json' }));
      return { domain, etag: put.ETag ?? '' };
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return null;
      throw new StorageError('taking over lock', `s3://${this.bucket}/${Key}`, error);
    }
  }

  /** Releases a lock taken by acquireLock; a lock someone else took over meanwhile is left alone. */
  async releaseLock(lock: HeldLock): Promise<void> {
    const Key = domainObjectKey(lock.domain, DomainFile.lock);
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key, IfMatch: lock.etag }));
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return;
      throw new StorageError('releasing lock', `s3://${this.bucket}/${Key}`, error);
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

function parseLock(text: string | undefined): { expiresAt: Date } | null {
  try {
    const value = JSON.parse(text ?? '') as { expiresAt?: string };
    const expiresAt = new Date(value.expiresAt ?? '');
    return Number.isNaN(expiresAt.getTime()) ? null : { expiresAt };
  } catch {
    return null;
  }
}
