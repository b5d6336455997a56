/**
 * Self-signed placeholder pairs: nginx refuses to start when a site's certificate file is missing,
 * so the sync agent installs one of these until the real certificate arrives (as the original
 * setup's nginx `run` script did). Browsers reject them, by design.
 */

import { generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** The organization name that marks a placeholder certificate. */
export const PLACEHOLDER_ORGANIZATION = 'acme-sync placeholder';

/** Returns a new RSA key for placeholders; one key may serve every placeholder of a run (nobody trusts them). */
export function createPlaceholderKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

/** Returns a self-signed certificate and its key (PEM) for `domain` and `www.` it, valid from `now` for `days`. */
export function createPlaceholder(domain: string, now: Date, privateKey: KeyObject = createPlaceholderKey(), days = 3650): { certificatePem: string; keyPem: string } {
  // node's crypto makes the key and signs (fast, native); node-forge builds the X.509, which node cannot.
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  certificate.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  certificate.validity.notBefore = new Date(now.getTime() - 60_000);
  certificate.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
  const subject = [
    { name: 'commonName', value: domain.length <= 64 ? domain : 'placeholder' },
    { name: 'organizationName', value: PLACEHOLDER_ORGANIZATION },
  ];
  certificate.setSubject(subject);
  certificate.setIssuer(subject);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: domain }, { type: 2, value: `www.${domain}` }] },
  ]);
  // Signed by node (native) over forge's TBSCertificate: forge's own RSA signing is ~300 ms.
  certificate.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption as string;
  certificate.signatureOid = forge.pki.oids.sha256WithRSAEncryption as string;
  const tbs = forge.asn1.toDer((forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(certificate)).getBytes();
  certificate.signature = sign('sha256', Buffer.from(tbs, 'binary'), privateKey).toString('binary');
  return { certificatePem: forge.pki.certificateToPem(certificate), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
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
