/**
 * A throw-away PKI for tests: RSA 2048 keys from node's crypto, certificates built with node-forge and
 * signed with node's crypto (forge's JavaScript RSA is ~50 times slower), with exact validity dates so
 * tests can choose `now` freely.
 */

import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** A key pair as PEM and node's KeyObject, and its public half as forge needs it to build a certificate. */
export interface TestKey {
  pem: string;
  object: KeyObject;
  forgePublic: forge.pki.PublicKey;
}

/** node-forge's TBSCertificate builder, which its type definitions leave out. */
const { getTBSCertificate } = forge.pki as unknown as { getTBSCertificate(certificate: forge.pki.Certificate): forge.asn1.Asn1 };

/** An issued test certificate, its key, and its PEM. */
export interface TestCertificate {
  certificate: forge.pki.Certificate;
  key: TestKey;
  pem: string;
}

export interface CertificateSpec {
  commonName: string;
  /** DNS subjectAltNames; none when omitted. */
  names?: readonly string[];
  /** basicConstraints cA; a CA also gets keyCertSign in keyUsage. */
  ca: boolean;
  notBefore: Date;
  notAfter: Date;
  key: TestKey;
  /** The signer; a self-signed certificate when omitted. */
  issuer?: TestCertificate;
  /** Overrides keyUsage's keyCertSign (to build a non-CA certificate that can still sign). */
  keyCertSign?: boolean;
  /** An extended key usage extension with these purposes; none when omitted. */
  extKeyUsage?: { serverAuth?: boolean; clientAuth?: boolean };
}

/** Returns a new RSA 2048 key. */
export function newKey(): TestKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), object: privateKey, forgePublic: forge.pki.publicKeyFromPem(publicPem) };
}

/** Returns a certificate built and signed (SHA-256) as `spec` says. */
export function issue(spec: CertificateSpec): TestCertificate {
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = spec.key.forgePublic;
  certificate.serialNumber = `01${randomBytes(8).toString('hex')}`;
  certificate.validity.notBefore = spec.notBefore;
  certificate.validity.notAfter = spec.notAfter;
  const subject = [{ name: 'commonName', value: spec.commonName }];
  certificate.setSubject(subject);
  certificate.setIssuer(spec.issuer ? spec.issuer.certificate.subject.attributes : subject);
  const keyCertSign = spec.keyCertSign ?? spec.ca;
  const extensions: object[] = [
    { name: 'basicConstraints', cA: spec.ca, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyCertSign, cRLSign: keyCertSign, critical: true },
  ];
  if (spec.names) extensions.push({ name: 'subjectAltName', altNames: spec.names.map((value) => ({ type: 2, value })) });
  if (spec.extKeyUsage) extensions.push({ name: 'extKeyUsage', ...spec.extKeyUsage });
  certificate.setExtensions(extensions);
  signCertificate(certificate, spec.issuer?.key ?? spec.key);
  return { certificate, key: spec.key, pem: forge.pki.certificateToPem(certificate) };
}

/** Signs `certificate` with sha256WithRSAEncryption, as forge's Certificate.sign does. */
function signCertificate(certificate: forge.pki.Certificate, signer: TestKey): void {
  certificate.signatureOid = certificate.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption as string;
  certificate.tbsCertificate = getTBSCertificate(certificate);
  const tbs = Buffer.from(forge.asn1.toDer(certificate.tbsCertificate).getBytes(), 'binary');
  certificate.signature = sign('sha256', tbs, signer.object).toString('binary');
}

/** Returns the PEM text of a chain, leaf first: what `domain.crt` holds. */
export function chainPem(...certificates: TestCertificate[]): string {
  return certificates.map((item) => item.pem).join('');
}
