/**
 * Reads a domain folder and judges what is in it: configuration, key, CSR, and whether the stored
 * certificate can be trusted; and, when the folder's latest pair does not verify, whether the pair
 * status.json commits to (by S3 version) still does: a renewal that wrote some of its files and
 * failed before its commit leaves the previous pair there, which is restored, not re-ordered.
 */

import type { KeyObject } from 'node:crypto';
import { describeCertificate, keySha256, parseCertificate, parsePrivateKey, sha256, splitCertificates, type CertificateFacts } from '../core/certificate.js';
import { parseDomainConfig, type DomainConfig } from '../core/domain-config.js';
import { keyTypeOf } from '../core/keys.js';
import { DomainFile } from '../core/layout.js';
import { parseStatus, statusRepairReason, type DomainStatus } from '../core/status.js';
import { verifyCertificate } from '../core/verify.js';
import type { FileVersions, RenewalContext, StoredDomainFiles } from './ports.js';

export interface LoadedDomain {
  files: StoredDomainFiles;
  config: DomainConfig;
  status: DomainStatus | null;
  /** The stored key when it is usable for the configured key type; null means a new key is needed. */
  key: { pem: string; object: KeyObject; sha256: string } | null;
  certificate: CertificateFacts | null;
  /** Why the stored certificate is not trustworthy, or null. */
  problem: string | null;
  /** The stored pair when it verifies (the certificate's facts, the files' digests); null otherwise. */
  verified: { certificate: CertificateFacts; fullChainSha256: string; keySha256: string } | null;
  /**
   * Set when the latest domain.crt and domain.key do not verify but the versions status.json
   * commits to do: the judgement above is of that pair, which the run puts back (`reason` says why).
   */
  restore?: { reason: string; key: string; fullChain: string };
}

/**
 * Reads and judges `domain`'s folder, falling back to the pair status.json pins when the latest
 * files do not verify (see LoadedDomain.restore). `read` receives the files as soon as they are
 * read (a failure is recorded against them). Throws an Error naming the file on a malformed
 * config.json, and the store's error when the folder cannot be read.
 */
export async function loadDomain(domain: string, ctx: Pick<RenewalContext, 'store' | 'trustedRoots' | 'now' | 'skewAllowanceMs'>, read: (files: StoredDomainFiles) => void, listed?: ReadonlySet<string>): Promise<LoadedDomain> {
  const files = await ctx.store.readDomain(domain, listed);
  read(files);
  return judgeFolder(domain, files, ctx);
}

/** Judges the files read of `domain`'s folder, as loadDomain does (reading the pinned pair when the latest does not verify). */
export async function judgeFolder(domain: string, files: StoredDomainFiles, ctx: Pick<RenewalContext, 'store' | 'trustedRoots' | 'now' | 'skewAllowanceMs'>): Promise<LoadedDomain> {
  const latest = judgeDomain(domain, files, ctx.trustedRoots, ctx.now(), ctx.skewAllowanceMs);
  // Only a pair that is there and does not verify was written over; a file taken away is renewed.
  const pinned = latest.problem !== null && files.key !== null && files.fullChain !== null ? pinnedElsewhere(latest) : null;
  if (!pinned) return latest;
  let previous: { key: string; fullChain: string };
  try {
    previous = await ctx.store.readVersions(domain, pinned);
  } catch {
    // Expired or deleted versions: there is nothing to put back, and the folder is renewed.
    return latest;
  }
  const judged = judgeDomain(domain, { ...files, ...previous, versions: pinned }, ctx.trustedRoots, ctx.now(), ctx.skewAllowanceMs);
  if (judged.verified === null || statusRepairReason(files.status, judged.verified) !== null) return latest;
  const reason = `domain.crt and domain.key are not the pair status.json commits to (${latest.problem}): a renewal wrote them and failed before its commit`;
  return { ...judged, restore: { reason, ...previous } };
}

/** The versions status.json pins when they are not the latest ones read (null: none, or the same). */
function pinnedElsewhere(latest: LoadedDomain): FileVersions | null {
  const pinned = latest.status?.versions;
  const fullChain = pinned?.[DomainFile.fullChain];
  const key = pinned?.[DomainFile.key];
  if (!fullChain || !key) return null;
  if (fullChain === latest.files.versions[DomainFile.fullChain] && key === latest.files.versions[DomainFile.key]) return null;
  return { [DomainFile.fullChain]: fullChain, [DomainFile.key]: key };
}

/**
 * Returns the judged contents of a domain folder; throws an Error (naming the file) on a malformed
 * config.json. The stored pair is judged on its own (chain, key, names, dates): a pair that
 * verifies while status.json describes another one is a renewal whose commit failed, which the
 * run repairs without a new order; a pair older than the one status.json records is not trusted.
 */
export function judgeDomain(domain: string, files: StoredDomainFiles, trustedRoots: readonly string[], now: Date, skewAllowanceMs: number): LoadedDomain {
  const config = parseDomainConfig(domain, files.config);
  const status = parseStatus(files.status);
  const key = usableKey(files.key, config);
  let certificate: CertificateFacts | null = null;
  let problem: string | null = null;
  if (files.fullChain !== null) {
    const [leafPem] = splitCertificates(files.fullChain);
    try {
      certificate = leafPem ? describeCertificate(parseCertificate(leafPem)) : null;
    } catch {
      certificate = null;
    }
    problem = integrityProblem(files.fullChain, certificate, status, key?.object ?? null, config, trustedRoots, now, skewAllowanceMs);
  }
  const verified = problem === null && certificate && key && files.fullChain !== null && files.key !== null ? { certificate, fullChainSha256: sha256(files.fullChain), keySha256: sha256(files.key) } : null;
  return { files, config, status, key, certificate, problem, verified };
}

function usableKey(pem: string | null, config: DomainConfig): LoadedDomain['key'] {
  if (pem === null) return null;
  try {
    const object = parsePrivateKey(pem);
    if (keyTypeOf(object) !== config.keyType) return null;
    return { pem, object, sha256: keySha256(object) };
  } catch {
    return null;
  }
}

function integrityProblem(chain: string, certificate: CertificateFacts | null, status: DomainStatus | null, key: KeyObject | null, config: DomainConfig, trustedRoots: readonly string[], now: Date, skewAllowanceMs: number): string | null {
  const recorded = status?.files[DomainFile.fullChain];
  if (recorded && recorded !== sha256(chain) && certificate && status?.notBefore && certificate.notBefore < new Date(status.notBefore)) {
    return `${DomainFile.fullChain} holds a certificate issued ${certificate.notBefore.toISOString()}, before the one ${DomainFile.status} records (${status.notBefore}): an older file put back`;
  }
  if (status?.revoked && certificate && status.revoked.serial === certificate.serial) return `revoked ${status.revoked.at} (${status.revoked.reason})`;
  if (!key) return 'no usable domain key';
  try {
    verifyCertificate({ chainPem: chain, key, names: config.names, namesMatch: 'exact', trustedRoots, now, skewAllowanceMs });
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}
