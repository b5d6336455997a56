/**
 * A run with nothing due costs one GET per domain: status.json, when the listing shows that
 * nothing it describes changed since the folder was last verified whole (the ETags of config.json,
 * domain.crt and domain.key are the ones it recorded), vouches for the certificate's facts. It
 * vouches only for a while (a folder is read and verified whole at least once a week, so a
 * status.json edited by hand is caught within a week), only under the same trusted roots, and only
 * while the chain's intermediates are valid. Anything else (a file changed, a failed attempt, a
 * revocation, a lock, a status.json from before) reads the whole folder, as before. Pure.
 */

import { createHash } from 'node:crypto';
import { describeCertificate, parseCertificate, splitCertificates, type CertificateFacts } from './certificate.js';
import { sameNames, type DomainConfig, type KeyType } from './domain-config.js';
import { DomainFile } from './layout.js';
import type { DomainStatus } from './status.js';

/** What status.json records for the one-GET path, when its folder was last verified whole. */
export interface Vouched {
  version: 1;
  /** ETags of domain.crt, domain.key and config.json (null: none) as verified. */
  etags: Record<string, string | null>;
  publicKeySha256: string;
  /** The certificate's ARI identifier (RFC 9773). */
  certId: string;
  /** Digest of the trusted roots it was verified under. */
  rootsSha256: string;
  /** The earliest notAfter among the chain's intermediates. */
  chainNotAfter: string;
  verifiedAt: string;
}

/** A folder is read and verified whole at least this often, whatever the listing shows. */
export const VOUCH_FOR_MS = 7 * 86_400_000;
/** A folder read whole renews its status.json's voucher when this much of it has passed. */
const VOUCH_REFRESH_MS = 86_400_000;

/** What the listing shows of one domain folder. */
export interface ListedFolder {
  /** ETags by file name (config.json, domain.crt, domain.key, …). */
  etags: Record<string, string>;
  locked: boolean;
}

/** The facts a decision needs, as status.json vouches for them. */
export interface VouchedFacts {
  names: string[];
  keyType: KeyType;
  notBefore: Date;
  notAfter: Date;
  publicKeySha256: string;
  certId: string;
  serial: string;
}

/** Returns a digest of a set of trusted roots (order does not matter). */
export function rootsDigest(roots: readonly string[]): string {
  return createHash('sha256').update([...roots].map((root) => root.trim()).sort().join('\n')).digest('hex');
}

/** Returns the earliest notAfter among the intermediates of a chain (leaf first), or null when there is none. */
export function intermediatesNotAfter(chainPem: string): Date | null {
  const [, ...intermediates] = splitCertificates(chainPem);
  const dates = intermediates.map((pem) => describeCertificate(parseCertificate(pem, 'intermediate')).notAfter.getTime());
  return dates.length > 0 ? new Date(Math.min(...dates)) : null;
}

/**
 * Returns the voucher for a folder verified whole just now, or null when something it needs is
 * unknown, or when status.json's own facts are not the verified certificate's and configuration's
 * (a status.json edited by hand must not be vouched for).
 */
export function vouchFor(args: { status: DomainStatus; certificate: CertificateFacts; config: DomainConfig; fileEtags: Record<string, string>; certId: string | null; chainNotAfter: Date | null; rootsSha256: string; now: Date }): Vouched | null {
  const { status, certificate, config } = args;
  const fullChain = args.fileEtags[DomainFile.fullChain];
  const key = args.fileEtags[DomainFile.key];
  if (!fullChain || !key || !args.certId || !args.chainNotAfter) return null;
  const describesIt = status.serial === certificate.serial && status.notBefore === certificate.notBefore.toISOString() && status.notAfter === certificate.notAfter.toISOString()
    && sameNames(status.names, certificate.names) && sameNames(certificate.names, config.names) && status.keyType === config.keyType;
  if (!describesIt) return null;
  return {
    version: 1,
    etags: { [DomainFile.fullChain]: fullChain, [DomainFile.key]: key, [DomainFile.config]: args.fileEtags[DomainFile.config] ?? null },
    publicKeySha256: certificate.publicKeySha256,
    certId: args.certId,
    rootsSha256: args.rootsSha256,
    chainNotAfter: args.chainNotAfter.toISOString(),
    verifiedAt: args.now.toISOString(),
  };
}

/** True when a status.json's voucher should be replaced by `next` (it differs, or a day of it has passed). */
export function voucherStale(current: Vouched | undefined, next: Vouched, now: Date): boolean {
  if (!current) return true;
  const facts = (voucher: Vouched) => JSON.stringify({ ...voucher, verifiedAt: null });
  return facts(current) !== facts(next) || now.getTime() - new Date(current.verifiedAt).getTime() >= VOUCH_REFRESH_MS;
}

/**
 * Returns the facts status.json vouches for, or why the folder must be read whole. `defaults`:
 * the configuration a folder without config.json has now (a default changed since is noticed).
 */
export function statusShortcut(status: DomainStatus | null, listed: ListedFolder | undefined, now: Date, expect: { rootsSha256: string; defaults: Pick<DomainConfig, 'names' | 'keyType'> }): { facts: VouchedFacts } | { readAll: string } {
  if (!listed) return { readAll: 'not in the listing' };
  if (!status) return { readAll: 'no readable status.json' };
  const vouched = status.vouched;
  if (!vouched || vouched.version !== 1) return { readAll: 'status.json vouches for nothing yet' };
  if (!status.serial || !status.notBefore || !status.notAfter || !status.keyType || status.names.length === 0) return { readAll: 'status.json names no certificate' };
  if (listed.locked) return { readAll: 'a renewal lock stands' };
  if (status.lastAttempt?.outcome === 'failed') return { readAll: 'the last attempt failed' };
  if (status.revoked || status.refusedKeySha256) return { readAll: 'a revocation or a refused key is recorded' };
  for (const file of [DomainFile.fullChain, DomainFile.key, DomainFile.config]) {
    if ((vouched.etags[file] ?? null) !== (listed.etags[file] ?? null)) return { readAll: `${file} changed since the folder was verified` };
  }
  if (vouched.rootsSha256 !== expect.rootsSha256) return { readAll: 'the trusted roots changed since the folder was verified' };
  if (!(new Date(vouched.chainNotAfter) > now)) return { readAll: `an intermediate of the chain expired ${vouched.chainNotAfter}` };
  const age = now.getTime() - new Date(vouched.verifiedAt).getTime();
  if (!(age >= 0 && age < VOUCH_FOR_MS)) return { readAll: 'the folder was last verified whole a week ago or more' };
  if ((vouched.etags[DomainFile.config] ?? null) === null && !(sameNames(status.names, expect.defaults.names) && status.keyType === expect.defaults.keyType)) return { readAll: 'the default names or key type changed' };
  const notBefore = new Date(status.notBefore);
  const notAfter = new Date(status.notAfter);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) return { readAll: 'status.json has unreadable dates' };
  return { facts: { names: status.names, keyType: status.keyType, notBefore, notAfter, publicKeySha256: vouched.publicKeySha256, certId: vouched.certId, serial: status.serial } };
}
