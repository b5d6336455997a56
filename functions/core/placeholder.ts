/**
 * Self-signed placeholder pairs: nginx refuses to start when a site's certificate file is missing,
 * so the sync agent installs one of these until the real certificate arrives (as the original
 * setup's nginx `run` script did). Browsers reject them, by design.
 */

import { createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { bitString, der, oid, pem, sequence, set, smallInteger, subjectAltNames, time, utf8 } from './der.js';

/** The organization name that marks a placeholder certificate. */
export const PLACEHOLDER_ORGANIZATION = 'acme-sync placeholder';

/** Returns a new RSA key for placeholders; one key may serve every placeholder of a run (nobody trusts them). */
export function createPlaceholderKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

/**
 * Returns a self-signed certificate and its key (PEM) for `domain` and `www.` it, valid from `now`
 * for `days`. node's crypto makes the key and signs; the X.509 (RFC 5280 §4.1), which node cannot
 * build, is written here in DER (core/der.ts): a library for it would be a third of the agent's bundle, loaded
 * by every run, for a certificate that is made once per domain.
 */
export function createPlaceholder(domain: string, now: Date, privateKey: KeyObject = createPlaceholderKey(), days = 3650): { certificatePem: string; keyPem: string } {
  const name = sequence(
    set(sequence(oid('2.5.4.3'), utf8(domain.length <= 64 ? domain : 'placeholder'))),
    set(sequence(oid('2.5.4.10'), utf8(PLACEHOLDER_ORGANIZATION))),
  );
  const sha256WithRsa = sequence(oid('1.2.840.113549.1.1.11'), der(0x05));
  const extension = (id: string, value: Buffer) => sequence(oid(id), der(0x04, value));
  const tbs = sequence(
    der(0xa0, smallInteger(2)), // version v3
    der(0x02, Buffer.concat([Buffer.from([1]), randomBytes(15)])), // a positive serial of 16 bytes
    sha256WithRsa,
    name,
    sequence(time(new Date(now.getTime() - 60_000)), time(new Date(now.getTime() + days * 86_400_000))),
    name,
    createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
    der(0xa3, sequence(
      extension('2.5.29.19', sequence()), // basicConstraints: not a CA
      extension('2.5.29.15', der(0x03, Buffer.from([5, 0xa0]))), // keyUsage: digitalSignature, keyEncipherment
      extension('2.5.29.37', sequence(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
      subjectAltNames([domain, `www.${domain}`]),
    )),
  );
  const certificate = sequence(tbs, sha256WithRsa, bitString(sign('sha256', tbs, privateKey)));
  return { certificatePem: pem('CERTIFICATE', certificate), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Returns true when the PEM text's first certificate is a placeholder made by createPlaceholder. */
export function isPlaceholder(certificatePem: string): boolean {
  try {
    const certificate = new X509Certificate(certificatePem);
    return certificate.subject.includes(`O=${PLACEHOLDER_ORGANIZATION}`) && certificate.subject === certificate.issuer;
  } catch {
    return false;
  }
}
