/**
 * Domain keys and certificate signing requests.
 */

import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import acme from 'acme-client';
import type { KeyType } from './domain-config.js';

/** Returns a new private key of `keyType`, PEM (PKCS#8). */
export function generateDomainKey(keyType: KeyType): string {
  const { privateKey } = keyType === 'ecdsa-p256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: keyType === 'rsa-2048' ? 2048 : 4096 });
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

/** Returns a CSR (PEM) for `names` signed with `keyPem`; the first name is the common name when it fits (64 characters). */
export async function createCsr(names: readonly string[], keyPem: string): Promise<string> {
  const [commonName] = names;
  const [, csr] = await acme.crypto.createCsr(
    { ...(commonName && commonName.length <= 64 ? { commonName } : {}), altNames: [...names] },
    keyPem,
  );
  return csr.toString();
}

/** Returns true when `csrPem` asks for exactly `names` with the public key of `key` (CSRs are reused only then). */
export function csrMatches(csrPem: string, names: readonly string[], key: KeyObject): boolean {
  try {
    const requested = acme.crypto.readCsrDomains(csrPem);
    const csrNames = new Set([...(requested.commonName ? [requested.commonName] : []), ...requested.altNames]);
    if (csrNames.size !== names.length || !names.every((name) => csrNames.has(name))) return false;
    // The CSR's SubjectPublicKeyInfo is embedded verbatim in its DER: a byte search is an exact key check.
    const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    return der.includes(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  } catch {
    return false;
  }
}
