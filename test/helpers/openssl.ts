/**
 * Independent checks with the openssl CLI: a second implementation, so a bug in the code under
 * test cannot hide itself in the test.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Returns openssl's verdict on `leaf` chained through `intermediates` to `root` (throws with openssl's output when it fails). */
export function opensslVerify(leaf: string, intermediates: string, root: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'verify-'));
  try {
    writeFileSync(join(dir, 'leaf.pem'), leaf);
    writeFileSync(join(dir, 'intermediates.pem'), intermediates);
    writeFileSync(join(dir, 'root.pem'), root);
    return execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'intermediates.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Returns the public key (PEM) of a certificate or of a private key, as openssl prints it. */
export function opensslPublicKey(pem: string, kind: 'certificate' | 'private key'): string {
  const args = kind === 'certificate' ? ['x509', '-noout', '-pubkey'] : ['pkey', '-pubout'];
  return execFileSync('openssl', args, { input: pem, encoding: 'utf8' }).trim();
}

/** Returns the subjectAltName DNS names openssl reads from a certificate, sorted. */
export function opensslNames(pem: string): string[] {
  const text = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], { input: pem, encoding: 'utf8' });
  return [...text.matchAll(/DNS:([^,\s]+)/g)].map((match) => match[1] as string).sort();
}

/** What openssl reads from a certificate signing request; throws with openssl's output when its signature does not verify. */
export function opensslReadCsr(pem: string): { subject: string; names: string[]; publicKey: string; signatureAlgorithm: string } {
  const text = execFileSync('openssl', ['req', '-verify', '-noout', '-text', '-subject', '-pubkey', '-nameopt', 'RFC2253'], { input: pem, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    subject: /^subject=(.*)$/m.exec(text)?.[1]?.trim() ?? '',
    names: [...text.matchAll(/DNS:([^,\s]+)/g)].map((match) => match[1] as string),
    publicKey: /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/.exec(text)?.[0] ?? '',
    signatureAlgorithm: /Signature Algorithm: (\S+)/.exec(text)?.[1] ?? '',
  };
}
