/**
 * Reading certificates and keys: plain facts out of PEM text, with node's X.509 support.
 */

import { X509Certificate, createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { VerificationError } from './errors.js';

/** The facts about a certificate that decisions and status records use. */
export interface CertificateFacts {
  serial: string;
  names: string[];
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 (hex) of the certificate's SubjectPublicKeyInfo: compared with a key's to match pairs. */
  publicKeySha256: string;
  fingerprintSha256: string;
}

const CERTIFICATE_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Returns each certificate PEM block in `text`, in order (an empty list when there is none). */
export function splitCertificates(text: string): string[] {
  return text.match(CERTIFICATE_PEM) ?? [];
}

/** Returns the parsed certificate; throws VerificationError naming `what` when it does not parse. */
export function parseCertificate(pem: string, what = 'certificate'): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new VerificationError(`${what} is not a readable X.509 certificate`);
  }
}

/** Returns the DNS names of the certificate's subjectAltName extension, sorted. */
export function dnsNames(certificate: X509Certificate): string[] {
  const san = certificate.subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4))
    .sort();
}

/** Returns the facts of a parsed certificate. */
export function describeCertificate(certificate: X509Certificate): CertificateFacts {
  return {
    serial: certificate.serialNumber.toLowerCase(),
    names: dnsNames(certificate),
    subject: certificate.subject,
    issuer: certificate.issuer.replace(/\n/g, ', '),
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
    publicKeySha256: keySha256(certificate.publicKey),
    fingerprintSha256: certificate.fingerprint256,
  };
}

/** Returns the SHA-256 (hex) of the SubjectPublicKeyInfo of a key (private or public). */
export function keySha256(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Returns the private key parsed from PEM; throws VerificationError (never echoing the key) when it does not parse. */
export function parsePrivateKey(pem: string, what = 'domain key'): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new VerificationError(`${what} is not a readable private key`);
  }
}

/** Returns the SHA-256 (hex) of the bytes of `text`: the digests status.json records. */
export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}
