/**
 * `<domain>/status.json`: the commit point of a domain folder. Written last, it records the
 * certificate's facts, the SHA-256 of every file written with it, and the last renewal attempt.
 * A reader trusts a key and certificate only when their digests match the status.
 */

import type { StoredRenewalInfo } from './ari.js';
import type { Vouched } from './shortcut.js';
import type { CertificateFacts } from './certificate.js';
import { DomainFile } from './layout.js';
import type { KeyType } from './domain-config.js';
import type { ServedRecord } from './served.js';

export interface LastAttempt {
  at: string;
  runId: string;
  /** `repaired`: status.json was lost and was rewritten from the verified files. */
  outcome: 'renewed' | 'failed' | 'repaired';
  step?: string;
  reason?: string;
}

export interface DomainStatus {
  domain: string;
  names: string[];
  keyType: KeyType | null;
  serial: string | null;
  issuer: string | null;
  notBefore: string | null;
  notAfter: string | null;
  renewedAt: string | null;
  /** SHA-256 of each stored file, by file name (`domain.crt`, `domain.key`, …). */
  files: Record<string, string>;
  /**
   * The S3 version of `domain.crt` and `domain.key` this status commits to (absent in an
   * unversioned bucket): hosts read exactly these, so files written after them by a renewal that
   * has not committed yet are never paired with this status.
   */
  versions?: Record<string, string>;
  lastAttempt: LastAttempt | null;
  /** What lets a run decide from this file alone, recorded when the folder was last verified whole (core/shortcut.ts). */
  vouched?: Vouched;
  /**
   * The public-key digest of a domain key the CA refused (badPublicKey, a blocked key): never used
   * for an order again, even with `reuseKey`, until a renewal succeeds with another one. Kept
   * across later failures.
   */
  refusedKeySha256?: string;
  /** The certificate `serial` was revoked (RFC 8555 §7.6) by `acme-certs revoke`: it is renewed at the next run. */
  revoked?: { serial: string; at: string; reason: string };
  /** The CA's renewal window for this certificate (ARI, RFC 9773), as last asked. */
  renewalInfo?: StoredRenewalInfo;
  /** What each name served when last checked from outside (see core/served.ts). */
  served?: Record<string, ServedRecord>;
}

/** Returns the status of a freshly stored certificate. */
export function issuedStatus(args: {
  domain: string;
  keyType: KeyType;
  certificate: CertificateFacts;
  files: Record<string, string>;
  versions: Record<string, string>;
  at: Date;
  runId: string;
  /** The voucher of the folder just verified (core/shortcut.ts); none when not all is known. */
  vouched?: Vouched | null;
}): DomainStatus {
  const { certificate } = args;
  return {
    domain: args.domain,
    names: certificate.names,
    keyType: args.keyType,
    serial: certificate.serial,
    issuer: certificate.issuer,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    renewedAt: args.at.toISOString(),
    files: args.files,
    ...(Object.keys(args.versions).length > 0 ? { versions: args.versions } : {}),
    ...(args.vouched ? { vouched: args.vouched } : {}),
    lastAttempt: { at: args.at.toISOString(), runId: args.runId, outcome: 'renewed' },
  };
}

/**
 * Returns why status.json must be rewritten from the folder's files while the stored certificate
 * and key verify (`verified`: the certificate's facts and the SHA-256 of domain.crt and domain.key;
 * null when they do not, and the folder is renewed instead): it is missing, cannot be read,
 * describes another certificate (a renewal whose commit failed: its files are written, its
 * status.json is not), or lacks or mismatches the digests the hosts check the files against.
 * Null when it describes the verified files.
 */
export function statusRepairReason(statusText: string | null, verified: { certificate: CertificateFacts; fullChainSha256: string; keySha256: string } | null): string | null {
  if (!verified) return null;
  const { certificate } = verified;
  if (statusText === null) return 'status.json was missing';
  const status = parseStatus(statusText);
  if (status === null) return 'status.json could not be read';
  if (!status.serial) return `status.json does not name the stored certificate (serial ${certificate.serial})`;
  if (status.serial !== certificate.serial) return `status.json describes serial ${status.serial}, not the stored certificate's serial ${certificate.serial} (a renewal stored its files but not its status.json)`;
  if (!status.files[DomainFile.fullChain] || !status.files[DomainFile.key]) return 'status.json lacks the digests of the stored certificate and key';
  if (status.files[DomainFile.fullChain] !== verified.fullChainSha256 || status.files[DomainFile.key] !== verified.keySha256) return 'status.json\'s digests do not match the stored certificate and key';
  return null;
}

/** Returns the status rewritten from a folder's verified files, recording the repair as the last attempt. */
export function repairedStatus(args: { domain: string; keyType: KeyType; certificate: CertificateFacts; files: Record<string, string>; versions: Record<string, string>; at: Date; runId: string; reason: string }): DomainStatus {
  const status = issuedStatus({ ...args });
  // The certificate was stored when it was issued, as far as anyone can tell now.
  return { ...status, renewedAt: args.certificate.notBefore.toISOString(), lastAttempt: { at: args.at.toISOString(), runId: args.runId, outcome: 'repaired', reason: args.reason } };
}

/**
 * Returns `previous` (or an empty status) with a failed attempt recorded; the certificate facts,
 * digests, versions and any refused key are kept. `learned` adds what the attempt found out: a key
 * the CA refused, the CA's renewal window (so a retry keeps the point chosen in it).
 */
export function failedAttemptStatus(previous: DomainStatus | null, domain: string, attempt: { at: Date; runId: string; step: string; reason: string }, learned: Pick<DomainStatus, 'refusedKeySha256' | 'renewalInfo'> = {}): DomainStatus {
  const base: DomainStatus = previous ?? { domain, names: [], keyType: null, serial: null, issuer: null, notBefore: null, notAfter: null, renewedAt: null, files: {}, lastAttempt: null };
  return {
    ...base,
    ...(learned.refusedKeySha256 ? { refusedKeySha256: learned.refusedKeySha256 } : {}),
    ...(learned.renewalInfo ? { renewalInfo: learned.renewalInfo } : {}),
    lastAttempt: { at: attempt.at.toISOString(), runId: attempt.runId, outcome: 'failed', step: attempt.step, reason: attempt.reason },
  };
}

/** Returns the parsed status, or null for absent or unreadable text (an unreadable status is treated as none). */
export function parseStatus(text: string | null): DomainStatus | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as DomainStatus;
    if (typeof value !== 'object' || value === null || typeof value.files !== 'object' || value.files === null) return null;
    return value;
  } catch {
    return null;
  }
}

/** Returns the status as stored: stable key order, one trailing newline. */
export function formatStatus(status: DomainStatus): string {
  return `${JSON.stringify(status, null, 2)}\n`;
}
