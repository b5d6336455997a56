/**
 * Domain keys and certificate signing requests.
 */

import { createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { bitString, der, oid, pem, sequence, set, smallInteger, subjectAltNames, utf8 } from './der.js';
import type { KeyType } from './domain-config.js';

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
 * Returns a PKCS#10 certificate signing request (RFC 2986), PEM, for `names`, signed with `keyPem`
 * (SHA-256; on libuv's thread pool, like the key). The common name is the domain itself when it
 * fits (64 characters, RFC 5280's upper bound): the name people look for in a certificate, whatever
 * other names sort before it. Every name is in subjectAltName (an extensionRequest attribute, RFC
 * 2985 §5.4.2), which is what the CA issues for and what clients check. A new CSR is made for every
 * order, for a kept key too: no CSR read from the bucket is ever sent to the CA.
 */
export async function createCsr(domain: string, names: readonly string[], keyPem: string): Promise<string> {
  const key = createPrivateKey(keyPem);
  const algorithm = key.asymmetricKeyType === 'ec'
    ? sequence(oid('1.2.840.10045.4.3.2')) // ecdsa-with-SHA256 (RFC 5758 §3.2: no parameters)
    : sequence(oid('1.2.840.113549.1.1.11'), der(0x05)); // sha256WithRSAEncryption (RFC 4055 §5: NULL)
  const subject = fitsCommonName(domain) ? sequence(set(sequence(oid('2.5.4.3'), utf8(domain)))) : sequence();
  const extensionRequest = sequence(oid('1.2.840.113549.1.9.14'), set(sequence(subjectAltNames(names))));
  const info = sequence(smallInteger(0), subject, createPublicKey(key).export({ type: 'spki', format: 'der' }), der(0xa0, extensionRequest));
  const signature = await promisify(sign)('sha256', info, key);
  return pem('CERTIFICATE REQUEST', sequence(info, algorithm, bitString(signature)));
}

function fitsCommonName(domain: string): boolean {
  return domain.length <= 64;
}
