import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** A PEM certificate and its PEM private key. */
export interface PemPair {
  certificate: string;
  privateKey: string;
}

function newKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  // Node's native key generation; node-forge's pure-JS RSA takes seconds.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const rsaKey = forgeKey as forge.pki.rsa.PrivateKey;
  return { privateKey: rsaKey, publicKey: forge.pki.setRsaPublicKey(rsaKey.n, rsaKey.e) };
}

function newCertificate(publicKey: forge.pki.PublicKey, days: number): forge.pki.Certificate {
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = publicKey;
  // A positive serial: the high bit of the first byte cleared.
  certificate.serialNumber = `0${randomBytes(15).toString('hex')}`;
  certificate.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  certificate.validity.notAfter = new Date(Date.now() + days * 24 * 60 * 60 * 1000);
  return certificate;
}

/**
 * Returns a throw-away CA and a server certificate it signed for `127.0.0.1` and `localhost`: the
 * TLS identity of Pebble's ACME and management APIs. Clients trust it through the CA certificate only.
 */
export function createApiCertificates(): { ca: PemPair; server: PemPair } {
  const caKeys = newKeyPair();
  const ca = newCertificate(caKeys.publicKey, 365);
  const caName = [{ name: 'commonName', value: 'acme-certificates local replica API CA' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const serverKeys = newKeyPair();
  const server = newCertificate(serverKeys.publicKey, 365);
  server.setSubject([{ name: 'commonName', value: 'localhost' }]);
  server.setIssuer(caName);
  server.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  server.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    ca: { certificate: forge.pki.certificateToPem(ca), privateKey: forge.pki.privateKeyToPem(caKeys.privateKey) },
    server: { certificate: forge.pki.certificateToPem(server), privateKey: forge.pki.privateKeyToPem(serverKeys.privateKey) },
  };
}
