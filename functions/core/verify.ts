/**
 * Verification of an issued certificate before it is stored or installed.
 *
 * Contract: verifyCertificate returns only for a chain that passes every check, and throws a
 * VerificationError naming the first check that failed otherwise. Callers never store or install
 * what it rejects.
 */

import type { KeyObject, X509Certificate } from 'node:crypto';
import { describeCertificate, keySha256, parseCertificate, splitCertificates, type CertificateFacts } from './certificate.js';
import { sameNames } from './domain-config.js';
import { VerificationError } from './errors.js';

export interface VerificationInput {
  /** The leaf certificate followed by its intermediates (as `domain.crt`), PEM. */
  chainPem: string;
  /** The domain's private key (or its public key): the leaf must carry its public key. */
  key: KeyObject;
  /** Names the leaf must carry. */
  names: readonly string[];
  /** `exact`: the leaf carries these names and no others (the renew function); `include`: at least these (the sync agent). */
  namesMatch: 'exact' | 'include';
  /** Trusted root certificates, PEM: the chain must end in a certificate signed by one of them. */
  trustedRoots: readonly string[];
  now: Date;
  /** How far a notBefore may lie ahead of `now` (clocks differ: this one's and the CA's). */
  skewAllowanceMs: number;
}

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/** Returns the facts of the leaf of a chain that passes every check; throws VerificationError otherwise. */
export function verifyCertificate(input: VerificationInput): CertificateFacts {
  const pems = splitCertificates(input.chainPem);
  if (pems.length === 0) throw new VerificationError('no certificate in the PEM text');
  const [leaf, ...intermediates] = pems.map((pem, i) => parseCertificate(pem, i === 0 ? 'leaf certificate' : `chain certificate ${i}`)) as [X509Certificate, ...X509Certificate[]];
  const facts = describeCertificate(leaf);

  if (facts.publicKeySha256 !== keySha256(input.key)) throw new VerificationError('certificate public key does not match the domain key');
  checkNames(facts.names, input.names, input.namesMatch);
  checkValidity('leaf certificate', leaf, input.now, input.skewAllowanceMs);
  if (leaf.ca) throw new VerificationError('leaf certificate is a CA certificate');
  // node's keyUsage is the extended key usage list (absent: any usage).
  if (leaf.keyUsage && leaf.keyUsage.length > 0 && !leaf.keyUsage.includes(SERVER_AUTH)) throw new VerificationError('leaf certificate is not for TLS servers (no serverAuth extended key usage)');
  checkChain(leaf, intermediates, input.trustedRoots, input.now, input.skewAllowanceMs);
  return facts;
}

function checkNames(actual: string[], expected: readonly string[], match: 'exact' | 'include'): void {
  const missing = expected.filter((name) => !actual.includes(name));
  if (missing.length > 0) throw new VerificationError(`certificate does not cover ${missing.join(', ')}`);
  if (match === 'exact' && !sameNames(actual, expected)) {
    const extra = actual.filter((name) => !expected.includes(name));
    throw new VerificationError(`certificate covers names that were not asked for: ${extra.join(', ')}`);
  }
}

function checkValidity(what: string, certificate: X509Certificate, now: Date, skewAllowanceMs: number): void {
  const notBefore = new Date(certificate.validFrom);
  const notAfter = new Date(certificate.validTo);
  if (now.getTime() + skewAllowanceMs < notBefore.getTime()) {
    throw new VerificationError(`${what} is not valid yet (notBefore ${notBefore.toISOString()}, ${Math.round((notBefore.getTime() - now.getTime()) / 60_000)} min after this clock's now, more than the ${Math.round(skewAllowanceMs / 60_000)} min allowed for clock skew)`);
  }
  if (now >= notAfter) throw new VerificationError(`${what} has expired (notAfter ${notAfter.toISOString()})`);
}

/** Walks leaf → intermediates → trusted root, checking each signature and each issuer's CA flag. */
function checkChain(leaf: X509Certificate, intermediates: X509Certificate[], trustedRoots: readonly string[], now: Date, skewAllowanceMs: number): void {
  if (trustedRoots.length === 0) throw new VerificationError('no trusted root configured');
  const roots = trustedRoots.map((pem, i) => parseCertificate(pem, `trusted root ${i + 1}`));
  let current = leaf;
  let position = 'leaf certificate';
  for (const [i, issuer] of intermediates.entries()) {
    // Stop at the first certificate a trusted root vouches for: a chain may carry a cross-sign
    // (ISRG Root X2 signed by X1) beyond the root the configuration trusts.
    if (anchoredAt(current, roots, now, skewAllowanceMs)) return;
    const issuerName = `chain certificate ${i + 1}`;
    if (!signedBy(current, issuer)) throw new VerificationError(`${position} is not signed by ${issuerName} (broken chain)`);
    if (!issuer.ca) throw new VerificationError(`${issuerName} is not a CA certificate`);
    checkValidity(issuerName, issuer, now, skewAllowanceMs);
    current = issuer;
    position = issuerName;
  }
  if (anchoredAt(current, roots, now, skewAllowanceMs)) return;
  throw new VerificationError(`${position} is not signed by a trusted root (issuer: ${current.issuer.replace(/\n/g, ', ')})`);
}

/** Returns true when `certificate` is a trusted root, or is signed by one that is valid now. */
function anchoredAt(certificate: X509Certificate, roots: X509Certificate[], now: Date, skewAllowanceMs: number): boolean {
  if (roots.some((root) => root.fingerprint256 === certificate.fingerprint256)) return true;
  const root = roots.find((candidate) => signedBy(certificate, candidate));
  if (!root) return false;
  checkValidity('trusted root', root, now, skewAllowanceMs);
  return true;
}

function signedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
