/**
 * What the renewal workflows need from the world, as interfaces owned by the workflows. The
 * adapters in ../adapters implement them; entry points build the adapters with real clients. No
 * SDK or ACME library type appears here.
 */

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
}

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
  listFolders(): Promise<string[]>;
  readDomain(domain: string): Promise<StoredDomainFiles>;
  writeIssued(domain: string, files: IssuedDomainFiles, status: string): Promise<void>;
  writeStatus(domain: string, status: string): Promise<void>;
  acquireLock(domain: string, owner: string, now: Date, ttlMs: number): Promise<HeldLock | null>;
  releaseLock(lock: HeldLock): Promise<void>;
}

export interface ChallengeStore {
  publish(token: string, body: string): Promise<void>;
  remove(token: string): Promise<void>;
}

/** What a name answered for a path over plain HTTP (status and at most 4 KiB of body). */
export interface PreflightResponse {
  status: number;
  body: string;
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

/** The CA, one protocol step per method (RFC 8555 §7.4–7.5). */
export interface Issuer {
  placeOrder(names: readonly string[]): Promise<PlacedOrder>;
  pendingChallenges(order: PlacedOrder): Promise<PendingChallenge[]>;
  answerChallenge(challenge: PendingChallenge): Promise<void>;
  /** Deactivates the authorizations of these challenges; returns the names it could not deactivate. */
  abandon(challenges: readonly PendingChallenge[]): Promise<string[]>;
  finalize(order: PlacedOrder, csrPem: string): Promise<PlacedOrder>;
  downloadCertificate(order: PlacedOrder): Promise<string>;
}

/** The issuer side of a run: the ACME account is loaded (or created) once, on first need. */
export type IssuerProvider = () => Promise<Issuer>;

export interface RenewalContext {
  store: CertificateStore;
  challenges: ChallengeStore;
  issuer: IssuerProvider;
  preflight: Preflight;
  log: Logger;
  now: () => Date;
  /** Returns when the schedule next runs after `now`. */
  nextRunAt: (now: Date) => Date;
  /** Returns when the schedule last ran, at or before `now`. */
  previousRunAt: (now: Date) => Date;
  /** Milliseconds left in this invocation (Lambda's getRemainingTimeInMillis); unbounded when absent. */
  timeLeftMs?: () => number;
  trustedRoots: readonly string[];
  runId: string;
  lockTtlMs: number;
  /** Returns a fresh random base64url token (preflight probes). */
  randomToken: () => string;
}
