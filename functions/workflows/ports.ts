/**
 * What the renewal workflows need from the world, as interfaces owned by the workflows. The
 * adapters in ../adapters implement them; entry points build the adapters with real clients. No
 * SDK or ACME library type appears here.
 */

import type { OrderBudget } from '../core/order-budget.js';
import type { RenewalInfo } from '../core/ari.js';
import type { ClockSkew } from '../core/clock.js';
import type { ServedAnswer } from '../core/served.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
/** One structured log event; implementations redact PEM blocks from every field. */
export type Logger = (level: LogLevel, message: string, fields?: LogFields) => void;

/** The text of the files in one domain folder; null where a file is absent. */
export interface StoredDomainFiles {
  config: string | null;
  key: string | null;
  csr: string | null;
  fullChain: string | null;
  status: string | null;
  /** status.json's ETag (null: absent), for writing it back only if no one else did meanwhile. */
  statusEtag: string | null;
  /** The S3 version of domain.key and domain.crt as read (absent: an unversioned bucket). */
  versions: FileVersions;
  /** The ETags of config.json, domain.key, domain.csr and domain.crt as read (absent files: none). */
  etags: Record<string, string>;
}

/** One object of a listing. */
export interface ListedObject {
  key: string;
  storedAt: Date;
  etag: string;
}

/** What a renewal's write of its files gives back: each file's S3 version and ETag. */
export interface WrittenFiles {
  versions: FileVersions;
  etags: Record<string, string>;
}

/** S3 version ids by file name (`domain.crt`, `domain.key`, …); empty in an unversioned bucket. */
export type FileVersions = Record<string, string>;

/** The files one renewal writes; `key` only when a new key was made. */
export interface IssuedDomainFiles {
  key?: string;
  csr: string;
  signed: string;
  intermediate: string;
  fullChain: string;
}

/** A held renewal lock: pass it back to release it. */
export interface HeldLock {
  domain: string;
  etag: string;
}

export interface CertificateStore {
  /** The domain folders (unvalidated; the tool's own folders are left out). */
  listFolders(): Promise<string[]>;
  /** Reads the folder's files; with `listed` (the file names a listing just showed), only those: the others are absent. */
  readDomain(domain: string, listed?: ReadonlySet<string>): Promise<StoredDomainFiles>;
  /**
   * Reads the folder again once `before` was read of it (under the lock): one listing, and the
   * files only when one of them changed meanwhile (`before` itself when none did). `exists` is
   * false when the folder holds nothing but a renewal lock (it was removed).
   */
  readDomainAgain(domain: string, before: StoredDomainFiles): Promise<{ files: StoredDomainFiles; exists: boolean }>;
  /** Writes a renewal's files (never status.json); returns the S3 version and ETag of each file written. */
  writeFiles(domain: string, files: IssuedDomainFiles): Promise<WrittenFiles>;
  /** Writes status.json, the commit point, trying again on any failure (a few times). */
  commitStatus(domain: string, status: string): Promise<void>;
  /** Reads the given versions of domain.key and domain.crt (throws when one is gone). */
  readVersions(domain: string, versions: FileVersions): Promise<{ key: string; fullChain: string }>;
  /** Writes domain.key and domain.crt back (a pair put back after a failed commit); returns their new versions. */
  restorePair(domain: string, pair: { key: string; fullChain: string }): Promise<FileVersions>;
  /** status.json's text and ETag, or null when there is none. */
  readStatus(domain: string): Promise<{ text: string; etag: string } | null>;
  /** Replaces status.json if it still has `etag` (null: only if there is none); false when someone else wrote it meanwhile. */
  writeStatusIfMatch(domain: string, status: string, etag: string | null): Promise<boolean>;
  /** Creates the lock unless one exists (null). */
  createLock(domain: string, body: string): Promise<HeldLock | null>;
  /** The existing lock's text and ETag (null: none). */
  readLock(domain: string): Promise<{ text: string; etag: string } | null>;
  /** Replaces the lock if it still has `etag` (null: another run changed it first). */
  replaceLock(domain: string, etag: string, body: string): Promise<HeldLock | null>;
  releaseLock(lock: HeldLock): Promise<void>;
  /** The hosts' reports: key, and when S3 stored it. */
  listHostReports(): Promise<{ key: string; storedAt: Date }[]>;
  readHostReport(key: string): Promise<string | null>;
  readAttentionState(): Promise<string | null>;
  writeAttentionState(text: string): Promise<void>;
  /** Every object in the bucket: key, when S3 stored it, ETag (one paginated listing). */
  listObjects(domain?: string): Promise<ListedObject[]>;
  /** True when the domain's folder holds anything but a renewal lock. */
  folderExists(domain: string): Promise<boolean>;
  /** Creates the domain's folder marker, and its config.json when given. */
  createFolder(domain: string, config: string | null): Promise<void>;
  /** Deletes every object of the domain's folder (in a versioned bucket the versions stay, restorable); returns how many. */
  removeFolder(domain: string): Promise<number>;
  /** What the renew function recorded of its ACME account (core/account.ts), or null. */
  readAccountRecord(): Promise<string | null>;
  writeAccountRecord(text: string): Promise<void>;
}

/** The renewal queue the workers consume (core/fan-out.ts). */
export interface RenewQueue {
  /** Sends one message per body, each after `delaySeconds` (at most 900); returns, per body, null when sent or why not. */
  send(bodies: readonly string[], delaySeconds?: number): Promise<(string | null)[]>;
}

/** A small object several runs update: read with its ETag, written only if it is still the one read. */
export interface ConditionalObject {
  /** The stored text and ETag, or null when there is none. */
  read(): Promise<{ text: string; etag: string } | null>;
  /** Writes if the stored object still has `etag` (null: only if there is none); false when another writer came first. */
  writeIfMatch(text: string, etag: string | null): Promise<boolean>;
}

/** This run's clock against the CA's. */
export interface ClockCheck {
  /** The skew, or null when it could not be measured. Never throws. */
  measure(): Promise<ClockSkew | null>;
}

/** What the CA's directory offers beyond RFC 8555. */
export interface CaDirectoryFacts {
  /** The renewalInfo resource (RFC 9773 §3), or null: the CA has no ARI. */
  renewalInfoUrl: string | null;
  /** `meta.profiles`: profile name → description, or null: the CA offers no choice. */
  profiles: Record<string, string> | null;
}

/** The CA's directory and its renewal windows: nothing here needs the account. */
export interface CaDirectory {
  /** What the directory offers, read once per run; null when it could not be read. Never throws. */
  facts(): Promise<CaDirectoryFacts | null>;
  /** The suggested renewal window of the certificate `certId` (RFC 9773 §4.1); throws naming what failed. */
  renewalInfo(url: string, certId: string): Promise<RenewalInfo>;
}

/** What a name serves over TLS, asked from outside. */
export interface ServedProbe {
  /** What `name` serves at each of its addresses (at least one answer). Never throws. */
  probe(name: string): Promise<ServedAnswer[]>;
}

/** The people who must hear of problems (an SNS topic). */
export interface Notifier {
  publish(subject: string, message: string): Promise<void>;
}

export interface ChallengeStore {
  publish(token: string, body: string): Promise<void>;
  remove(token: string): Promise<void>;
}

/**
 * What a name answered for a path over HTTP, after the redirects the CA would follow (status and
 * at most 4 KiB of body), and what the preflight could not check as the CA will (`warnings`,
 * e.g. an IPv6 address this function cannot reach).
 */
export interface PreflightResponse {
  status: number;
  body: string;
  warnings?: string[];
}

export interface Preflight {
  fetch(name: string, path: string): Promise<PreflightResponse>;
}

/** An order placed with the CA (RFC 8555 §7.4); opaque to the workflow. */
export interface PlacedOrder {
  readonly url: string;
}

/** An HTTP-01 challenge to answer: publish `keyAuthorization` at /.well-known/acme-challenge/<token> on `name`. */
export interface PendingChallenge {
  readonly name: string;
  readonly token: string;
  readonly keyAuthorization: string;
}

/** What an order asks for beyond its names. */
export interface OrderRequest {
  /** The CA profile (its directory's `meta.profiles` offers it), or null: the CA's default. */
  profile: string | null;
  /** The ARI identifier of the certificate this order replaces (RFC 9773 §5), or null. */
  replaces: string | null;
}

/** A CA refused the domain key (RFC 8555 `badPublicKey`, or a key it blocks): the next attempt must use a new one. */
export class KeyRefusedError extends Error {
  override readonly name = 'KeyRefusedError';
  /** The refused key's public-key digest, set by the workflow, which knows the key. */
  keySha256?: string;
}

/** The CA, one protocol step per method (RFC 8555 §7.4–7.5). */
export interface Issuer {
  /**
   * Places an order (RFC 8555 §7.4). When the CA refuses `replaces` (the certificate was replaced
   * already, or the CA does not know it), the order is placed without it, and `replacesDropped`
   * says why.
   */
  placeOrder(names: readonly string[], request: OrderRequest): Promise<{ order: PlacedOrder; replacesDropped: string | null }>;
  pendingChallenges(order: PlacedOrder): Promise<PendingChallenge[]>;
  /**
   * Tells the CA every challenge is ready and waits until it has validated each name; returns, in
   * the order given, null for a name validated, or why it was not.
   */
  validate(order: PlacedOrder, challenges: readonly PendingChallenge[]): Promise<(string | null)[]>;
  /** Deactivates the authorizations of these challenges; returns the names it could not deactivate. */
  abandon(challenges: readonly PendingChallenge[]): Promise<string[]>;
  /** Sends the CSR and waits for the certificate; throws KeyRefusedError when the CA refuses the key. */
  finalize(order: PlacedOrder, csrPem: string): Promise<PlacedOrder>;
  downloadCertificate(order: PlacedOrder): Promise<string>;
  /** Revokes a certificate this account was issued (RFC 8555 §7.6), with an RFC 5280 reason code. */
  revoke(certificatePem: string, reasonCode: number): Promise<void>;
}

/** The issuer side of a run: the ACME account is loaded (or created) once, on first need. */
export type IssuerProvider = () => Promise<Issuer>;

/** What watching the hosts needs: the store, a probe of what is served, and the thresholds. */
export interface WatchContext {
  store: CertificateStore;
  served: ServedProbe;
  log: Logger;
  now: () => Date;
  concurrency: number;
  /** A name serving another certificate than the stored one counts after this long (hosts install within the hour). */
  mismatchGraceMs: number;
  /** A served certificate with less than this fraction of its lifetime left is lapsing. */
  lapseFraction: number;
  /** A host that has not reported for this long is stale. */
  hostStaleMs: number;
  /** Milliseconds left in this invocation; unbounded when absent. */
  timeLeftMs?: () => number;
}

export interface RenewalContext {
  store: CertificateStore;
  /** The bucket manifest (core/manifest.ts), written at the end of a run when the bucket no longer matches it; null: never (a dry run). */
  manifest: ConditionalObject | null;
  /** Measured once at the start of each renewal run. */
  caClock: ClockCheck;
  /** The CA's directory (ARI, profiles), read once per run. */
  directory: CaDirectory;
  challenges: ChallengeStore;
  issuer: IssuerProvider;
  preflight: Preflight;
  log: Logger;
  now: () => Date;
  /** Returns when the schedule next runs after `now`. */
  nextRunAt: (now: Date) => Date;
  /** Returns when the next run of any kind (the schedule's, or a check run's) comes after `now`: ARI renews before it. */
  nextCheckAt: (now: Date) => Date;
  /** Returns when the schedule last ran, at or before `now`. */
  previousRunAt: (now: Date) => Date;
  /** Milliseconds left in this invocation (Lambda's getRemainingTimeInMillis); unbounded when absent. */
  timeLeftMs?: () => number;
  trustedRoots: readonly string[];
  /** How far a certificate's notBefore may lie ahead of `now()` (this clock and the CA's differ). */
  skewAllowanceMs: number;
  runId: string;
  /** The longest a lock stands (shortened near the invocation's end; see core/locks.ts lockTtlMs). */
  lockTtlMs: number;
  /** Hand the due domains to the workers' queue (core/fan-out.ts): always, or when they do not fit in the time left; null: renew them all here. */
  fanOut: { mode: 'auto' | 'always'; queue: RenewQueue; perDomainMs: number } | null;
  /** The account's order budget and its ledger, shared with every other run and worker (workflows/order-budget.ts); null: none. */
  orderBudget: { ledger: ConditionalObject; budget: OrderBudget } | null;
  /** Returns a fresh random base64url token (preflight probes). */
  randomToken: () => string;
  /** Returns a random number in [0, 1) (the point chosen in a renewal window). */
  random: () => number;
}
