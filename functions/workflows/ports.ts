/**
 * What the renewal workflows need from the world, as interfaces. The adapters in ../adapters
 * implement them; entry points build the adapters with real clients.
 */

import type { HeldLock, IssuedDomainFiles, StoredDomainFiles } from '../adapters/s3-certificate-store.js';
import type { AcmeIssuer } from '../adapters/acme-issuer.js';
import type { PreflightResponse } from '../adapters/http-preflight.js';
import type { Logger } from '../adapters/json-logger.js';

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

export interface Preflight {
  fetch(name: string, path: string): Promise<PreflightResponse>;
}

/** The issuer side of a run: the ACME account is loaded (or created) once, on first need. */
export type IssuerProvider = () => Promise<Pick<AcmeIssuer, 'placeOrder' | 'pendingChallenges' | 'answerChallenge' | 'abandon' | 'finalize' | 'downloadCertificate'>>;

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

export type { HeldLock, IssuedDomainFiles, StoredDomainFiles };
