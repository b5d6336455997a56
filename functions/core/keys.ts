/**
 * Domain keys and certificate signing requests.
 */

import { createPublicKey, generateKeyPair, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { KeyType } from './domain-config.js';

// acme-client and @peculiar/x509 are loaded when a CSR is first made or read: a run with nothing
// due never needs them, and they are most of the renew function's cold start.
const acmeCrypto = async () => (await import('acme-client')).default.crypto;
const x509 = () => import('@peculiar/x509');

/** Returns a new private key of `keyType`, PEM (PKCS#8). */
export function generateDomainKey(keyType: KeyType): string {
  const { privateKey } = keyType === 'ecdsa-p256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: keyType === 'rsa-2048' ? 2048 : 4096 });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * Returns a new private key of `keyType`, PEM (PKCS#8), made on libuv's thread pool: an RSA-4096
 * key takes seconds, and made synchronously it would stall every other domain of the run (their
 * preflight deadlines and CA polling included).
 */
export async function createDomainKey(keyType: KeyType): Promise<string> {
  const { privateKey } = keyType === 'ecdsa-p256'
    ? await generateKeyPairAsync('ec', { namedCurve: 'P-256' })
    : await generateKeyPairAsync('rsa', { modulusLength: keyType === 'rsa-2048' ? 2048 : 4096 });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Returns the key type of a parsed private key, or null for a type this tool does not issue with. */
export function keyTypeOf(key: KeyObject): KeyType | null {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (key.asymmetricKeyType === 'rsa' && details.modulusLength === 2048) return 'rsa-2048';
  if (key.asymmetricKeyType === 'rsa' && details.modulusLength === 4096) return 'rsa-4096';
  return null;
}

/**
 * Returns a CSR (PEM) for `names` signed with `keyPem`. The common name is the domain itself when
 * it fits (64 characters, RFC 5280's upper bound): the name people look for in a certificate,
 * whatever other names sort before it. Every name is in subjectAltName, which is what clients check.
 */
export async function createCsr(domain: string, names: readonly string[], keyPem: string): Promise<string> {
  const [, csr] = await (await acmeCrypto()).createCsr(
    { ...(fitsCommonName(domain) ? { commonName: domain } : {}), altNames: [...names] },
    keyPem,
  );
  return csr.toString();
}

function fitsCommonName(domain: string): boolean {
  return domain.length <= 64;
}

/**
 * Returns true when `csrPem` is a validly signed request for exactly `names`, with the domain as
 * its common name, whose public key is exactly the domain key's (CSRs are reused only then). The CSR is parsed, not searched: a planted
 * CSR cannot pass by carrying the key's bytes somewhere else.
 */
export async function csrMatches(csrPem: string, domain: string, names: readonly string[], key: KeyObject): Promise<boolean> {
  try {
    const request = new (await x509()).Pkcs10CertificateRequest(csrPem);
    const requested = (await acmeCrypto()).readCsrDomains(csrPem);
    if ((requested.commonName ?? null) !== (fitsCommonName(domain) ? domain : null)) return false;
    const csrNames = new Set([...(requested.commonName ? [requested.commonName] : []), ...requested.altNames]);
    if (csrNames.size !== names.length || !names.every((name) => csrNames.has(name))) return false;
    const ours = createPublicKey(key).export({ type: 'spki', format: 'der' });
    if (!ours.equals(Buffer.from(request.publicKey.rawData))) return false;
    return await request.verify(webcrypto as unknown as Crypto);
  } catch {
    return false;
  }
}
