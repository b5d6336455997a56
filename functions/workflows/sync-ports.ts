/**
 * What the host sync workflow needs from the world, as interfaces owned by the workflow; the
 * adapters implement them and the agent's wiring builds them.
 */

import type { KeyObject } from 'node:crypto';
import type { DomainRecord } from '../core/sync-plan.js';
import type { BucketMemory } from '../core/view-plan.js';
import type { Logger } from './ports.js';

/** One object of the certificates bucket listing. */
export interface ListedObject {
  key: string;
  etag: string;
}

/** What a read of the manifest (core/manifest.ts) gave. */
export type ManifestAnswer =
  /** It still has the ETag asked with (304). */
  | { kind: 'unchanged' }
  | { kind: 'found'; text: string; etag: string }
  | { kind: 'missing' }
  /** The host's identity may not read it (a host policy from before the manifest, or one scoped to some folders). */
  | { kind: 'denied'; reason: string };

/** Which object to read, and which version of it. */
export interface ObjectRead {
  key: string;
  etag?: string;
  versionId?: string;
}

/** The certificates bucket, read-only. */
export interface CertificateBucket {
  /** The bucket's name (what the agent's memory of the bucket is kept under). */
  readonly name: string;
  /** Every object of the bucket, or (with `domains`) of those domain folders only. */
  listObjects(domains?: readonly string[]): Promise<ListedObject[]>;
  /** Reads the manifest, with If-None-Match on `etag` when given; throws on a failure other than those ManifestAnswer names. */
  readManifest(etag: string | null): Promise<ManifestAnswer>;
  /**
   * The object's text and ETag: the version `versionId` names when given (else, in a bucket or
   * under a policy that has no versions, the object as listed); as listed when only `etag` is
   * given (throws when it changed since the listing); as it is now with neither.
   */
  readObject(object: ObjectRead): Promise<{ text: string; etag: string }>;
}

/** The files of the pair nginx reads for a domain, as they are on disk. */
export interface InstalledFiles {
  certificatePem: string;
  keyPem: string;
  /** The symlink's target; null for a plain directory from before the agent. */
  version: string | null;
}

/** The certificate pairs nginx reads on the host. */
export interface HostFiles {
  /** The symlink target of the domain's entry (null: none, or a plain directory); cheap. */
  linkTarget(domain: string): Promise<string | null>;
  /** The pair installed for a domain, or null when there is none (or it is incomplete). */
  current(domain: string): Promise<InstalledFiles | null>;
  /** Installs a pair atomically; returns what `restore` needs to undo it, and the new version. */
  install(domain: string, certificatePem: string, keyPem: string): Promise<{ previous: string | null; version: string }>;
  /** Takes a domain out of nginx's sight; returns what `restore` needs. */
  detach(domain: string): Promise<string | null>;
  restore(domain: string, previous: string | null): Promise<void>;
  removeOldVersions(domain: string, keep: string | null): Promise<void>;
  installedDomains(): Promise<string[]>;
  remove(domain: string): Promise<void>;
  /** The path of the certificate file nginx is configured with for a domain. */
  certificatePath(domain: string): string;
  /** `path` with every symlink resolved; `path` itself when it cannot be resolved. */
  realPath(path: string): Promise<string>;
}

/** The result of testing nginx's configuration; `dump` is nginx -T's listing of it, when the test printed one. */
export interface NginxTest {
  ok: boolean;
  output: string;
  /** The `ssl_certificate` paths of the configuration, or null when the test printed no dump. */
  certificatePaths: string[] | null;
}

export interface Nginx {
  testConfiguration(): Promise<NginxTest>;
  reload(): Promise<void>;
  /** The certificate nginx serves now for `name` over TLS with SNI (serial and DNS names), or null when it serves none. */
  servedCertificate(name: string): Promise<{ serial: string; names: string[] } | null>;
  /** Returns, per check, `serial` once nginx serves it for the name, else what it serves (null: nothing) when the time runs out. */
  confirmServed(checks: readonly { name: string; serial: string }[], timeoutMs: number, concurrency: number): Promise<(string | null)[]>;
}

/** The agent's memory between runs: per domain, what nginx was last confirmed serving; and what it last saw of the bucket. */
export interface SyncState {
  version: 2;
  domains: Record<string, DomainRecord>;
  /** Absent in a new state file, or one from an agent before the manifest: the next run lists the bucket in full. */
  bucket?: BucketMemory;
}

export interface SyncStateStore {
  read(): Promise<SyncState>;
  write(state: SyncState): Promise<void>;
}

/** Where a host reports after every run (the renew function reads it): written with the host's own identity. */
export interface HostReporter {
  /** The id of the identity the host writes with; its report's key starts with it. */
  identity(): Promise<string>;
  write(key: string, text: string): Promise<void>;
}

export interface SyncContext {
  bucket: CertificateBucket;
  files: HostFiles;
  nginx: Nginx;
  state: SyncStateStore;
  lock: () => Promise<{ release(): Promise<void> } | null>;
  /** Null: this run reports nothing (nginx not running yet, in a container's first run). */
  reporter: HostReporter | null;
  /** How the report names this host, and the agent's version. */
  host: { name: string; agentVersion: string };
  log: Logger;
  now: () => Date;
  /** The key placeholders are made with (made once, on first need). */
  placeholderKey: () => KeyObject;
  trustedRoots: readonly string[];
  /** How far a certificate's notBefore may lie ahead of `now()` (this host's clock and the CA's differ). */
  skewAllowanceMs: number;
  /** Sync only these domains (`--domains`); every domain in the bucket when null. */
  domains: readonly string[] | null;
  prune: boolean;
  /** A full listing of the bucket at least this often (core/view-plan.ts); 0: every run, without reading the manifest. */
  fullListingEveryMs: number;
  /**
   * `reload`: test nginx, reload it and confirm what it serves (cron, the container loop);
   * `install-only`: nginx is not running yet (a container starting): install, record nothing.
   */
  mode: 'reload' | 'install-only';
  concurrency: number;
  /** How long to wait for nginx to serve a new certificate after the reload. */
  servedCheckTimeoutMs: number;
}
