/**
 * The certificates bucket: domain folders, their files, and a per-domain renewal lock.
 */

import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ACCOUNT_RECORD_KEY, ATTENTION_STATE_KEY, DomainFile, domainFolderKey, domainObjectKey, HOST_REPORTS_PREFIX, parseObjectKey, type DomainFileName } from '../core/layout.js';
import type { CertificateStore, FileVersions, HeldLock, IssuedDomainFiles, ListedObject, StoredDomainFiles, WrittenFiles } from '../workflows/ports.js';
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

  /** Returns the text of the files in the folder of `domain` (absent files are null), status.json's ETag and the pair's versions. */
  async readDomain(domain: string, listed?: ReadonlySet<string>): Promise<StoredDomainFiles> {
    const read = (file: DomainFileName) => (listed && !listed.has(file) ? Promise.resolve(null) : this.readObject(domain, file));
    const [config, key, csr, fullChain, status] = await Promise.all([read(DomainFile.config), read(DomainFile.key), read(DomainFile.csr), read(DomainFile.fullChain), read(DomainFile.status)]);
    const versions: FileVersions = {};
    if (key?.versionId) versions[DomainFile.key] = key.versionId;
    if (fullChain?.versionId) versions[DomainFile.fullChain] = fullChain.versionId;
    const etags: Record<string, string> = {};
    if (config?.etag) etags[DomainFile.config] = config.etag;
    if (key?.etag) etags[DomainFile.key] = key.etag;
    if (csr?.etag) etags[DomainFile.csr] = csr.etag;
    if (fullChain?.etag) etags[DomainFile.fullChain] = fullChain.etag;
    return { config: config?.text ?? null, key: key?.text ?? null, csr: csr?.text ?? null, fullChain: fullChain?.text ?? null, status: status?.text ?? null, statusEtag: status?.etag ?? null, versions, etags };
  }

  /** One listing of the folder; the files are read again only when an ETag differs from `before`'s. */
  async readDomainAgain(domain: string, before: StoredDomainFiles): Promise<{ files: StoredDomainFiles; exists: boolean }> {
    const listed = await this.listUnder(domainFolderKey(domain));
    const lockKey = domainObjectKey(domain, DomainFile.lock);
    const etagOf = (file: DomainFileName) => listed.find((item) => item.key === domainObjectKey(domain, file))?.etag ?? null;
    const unchanged = ([DomainFile.config, DomainFile.key, DomainFile.csr, DomainFile.fullChain] as const).every((file) => etagOf(file) === (before.etags[file] ?? null)) && etagOf(DomainFile.status) === before.statusEtag;
    return { files: unchanged ? before : await this.readDomain(domain), exists: listed.some((item) => item.key !== lockKey) };
  }

  /**
   * Writes a renewal's files, all at once; status.json is written after them (commitStatus). Until
   * then status.json still names the previous files by digest and by version, so readers keep
   * using the previous pair, whichever of these writes lands or fails. Throws the first failure
   * once every write has settled.
   */
  async writeFiles(domain: string, files: IssuedDomainFiles): Promise<WrittenFiles> {
    const versions: FileVersions = {};
    const etags: Record<string, string> = {};
    const write = async (file: DomainFileName, text: string) => {
      const written = await this.writeText(domain, file, text);
      if (written.versionId) versions[file] = written.versionId;
      if (written.etag) etags[file] = written.etag;
    };
    const writes: [DomainFileName, string][] = [[DomainFile.csr, files.csr], [DomainFile.signed, files.signed], [DomainFile.intermediate, files.intermediate], [DomainFile.fullChain, files.fullChain]];
    if (files.key !== undefined) writes.unshift([DomainFile.key, files.key]);
    const failed = (await Promise.allSettled(writes.map(([file, text]) => write(file, text)))).find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return { versions, etags };
  }

  /** Reads the versions status.json pinned of domain.key and domain.crt (a pair to put back). */
  async readVersions(domain: string, versions: FileVersions): Promise<{ key: string; fullChain: string }> {
    const read = async (file: DomainFileName) => {
      const Key = domainObjectKey(domain, file);
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key, VersionId: versions[file] })).catch((error: unknown) => {
        throw new StorageError('reading', `s3://${this.bucket}/${Key} (version ${versions[file]})`, error);
      });
      return (await object.Body?.transformToString('utf8')) ?? '';
    };
    const [key, fullChain] = await Promise.all([read(DomainFile.key), read(DomainFile.fullChain)]);
    return { key, fullChain };
  }

  /** Writes domain.key, then domain.crt, back as they were; returns their new versions. */
  async restorePair(domain: string, pair: { key: string; fullChain: string }): Promise<FileVersions> {
    const versions: FileVersions = {};
    for (const [file, text] of [[DomainFile.key, pair.key], [DomainFile.fullChain, pair.fullChain]] as const) {
      const { versionId } = await this.writeText(domain, file, text);
      if (versionId) versions[file] = versionId;
    }
    return versions;
  }

  /**
   * Writes status.json, the commit point. The SDK already retries throttling and 5xx answers; a
   * write that still fails is tried twice more after a pause, since a folder whose files are new
   * and whose status.json is not stays on its previous pair until the next run repairs it.
   */
  async commitStatus(domain: string, status: string): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.writeText(domain, DomainFile.status, status);
        return;
      } catch (error) {
        if (attempt >= COMMIT_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, COMMIT_PAUSE_MS * attempt));
      }
    }
  }

  /** Returns status.json's text and ETag, or null when there is none. */
  async readStatus(domain: string): Promise<{ text: string; etag: string } | null> {
    return this.readKey(domainObjectKey(domain, DomainFile.status));
  }

  /**
   * Replaces status.json only if it still has `etag` (null: creates it only if there is none);
   * returns false when it changed meanwhile (someone else wrote it).
   */
  async writeStatusIfMatch(domain: string, status: string, etag: string | null): Promise<boolean> {
    const Key = domainObjectKey(domain, DomainFile.status);
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: status, ...(etag === null ? { IfNoneMatch: '*' } : { IfMatch: etag }), ContentType: 'application/json' }));
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

  /** Returns every object's key, LastModified and ETag: one paginated listing (1000 keys a page). */
  async listObjects(domain?: string): Promise<ListedObject[]> {
    return this.listUnder(domain === undefined ? '' : domainFolderKey(domain));
  }

  /** True when the folder holds anything but a renewal lock (its marker, a config, files). */
  async folderExists(domain: string): Promise<boolean> {
    const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: domainFolderKey(domain), MaxKeys: 2 })).catch((error: unknown) => {
      throw new StorageError('listing', `s3://${this.bucket}/${domainFolderKey(domain)}`, error);
    });
    const lockKey = domainObjectKey(domain, DomainFile.lock);
    return (page.Contents ?? []).some((item) => item.Key !== lockKey);
  }

  async createFolder(domain: string, config: string | null): Promise<void> {
    if (config !== null) await this.writeText(domain, DomainFile.config, config);
    const Key = domainFolderKey(domain);
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: new Uint8Array(0) })).catch((error: unknown) => {
      throw new StorageError('writing', `s3://${this.bucket}/${Key}`, error);
    });
  }

  async removeFolder(domain: string): Promise<number> {
    const objects = await this.listUnder(domainFolderKey(domain));
    for (let start = 0; start < objects.length; start += 1000) {
      const batch = objects.slice(start, start + 1000);
      const result = await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map(({ key }) => ({ Key: key })), Quiet: true } })).catch((error: unknown) => {
        throw new StorageError('deleting', `s3://${this.bucket}/${domainFolderKey(domain)}*`, error);
      });
      const failed = result.Errors ?? [];
      if (failed.length > 0) throw new StorageError('deleting', `s3://${this.bucket}/${failed[0]?.Key ?? domainFolderKey(domain)}`, new Error(`${failed.length} object(s) not deleted: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`.trim()));
    }
    return objects.length;
  }

  private async listUnder(Prefix: string): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken: token })).catch((error: unknown) => {
        throw new StorageError('listing', `s3://${this.bucket}/${Prefix}`, error);
      });
      for (const item of page.Contents ?? []) if (item.Key) objects.push({ key: item.Key, storedAt: item.LastModified ?? new Date(0), etag: item.ETag ?? '' });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  /** Returns what the function recorded of its ACME account (null: nothing yet). */
  async readAccountRecord(): Promise<string | null> {
    return (await this.readKey(ACCOUNT_RECORD_KEY))?.text ?? null;
  }

  async writeAccountRecord(text: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: ACCOUNT_RECORD_KEY, Body: text, ContentType: 'application/json' })).catch((error: unknown) => {
      throw new StorageError('writing', `s3://${this.bucket}/${ACCOUNT_RECORD_KEY}`, error);
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

  private async readObject(domain: string, file: DomainFileName): Promise<{ text: string; etag: string; versionId: string | null } | null> {
    const Key = domainObjectKey(domain, file);
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      return { text: (await object.Body?.transformToString('utf8')) ?? '', etag: object.ETag ?? '', versionId: versionOf(object.VersionId) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw new StorageError('reading', `s3://${this.bucket}/${Key}`, error);
    }
  }

  /** Writes one file; returns its S3 version (null in an unversioned bucket) and its ETag. */
  private async writeText(domain: string, file: DomainFileName, text: string): Promise<{ versionId: string | null; etag: string | null }> {
    const Key = domainObjectKey(domain, file);
    const ContentType = file.endsWith('.json') ? 'application/json' : 'application/x-pem-file';
    const put = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: text, ContentType })).catch((error: unknown) => {
      throw new StorageError('writing', `s3://${this.bucket}/${Key}`, error);
    });
    return { versionId: versionOf(put.VersionId), etag: put.ETag ?? null };
  }
}

/** The commit write is tried this many times in all (each try with the SDK's own retries inside). */
const COMMIT_ATTEMPTS = 3;
const COMMIT_PAUSE_MS = 2_000;

/** S3 answers the version "null" for objects written while versioning was off: that is no version to pin. */
function versionOf(versionId: string | undefined): string | null {
  return versionId && versionId !== 'null' ? versionId : null;
}
