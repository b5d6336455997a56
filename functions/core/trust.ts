/**
 * Trusted roots: chosen by common name from a root store (node's bundled Mozilla store in
 * production: ISRG Root X1 and X2 for Let's Encrypt), or given as PEM (Pebble's root locally).
 */

import { X509Certificate } from 'node:crypto';
import { splitCertificates } from './certificate.js';

/** Returns the PEM of each certificate in `store` whose subject common name is in `names`; throws naming any name not found. */
export function selectRootsByName(store: readonly string[], names: readonly string[]): string[] {
  if (names.length === 0) throw new Error('no trusted root named');
  const selected: string[] = [];
  for (const name of names) {
    const match = store.filter((pem) => commonName(pem) === name);
    if (match.length === 0) throw new Error(`trusted root "${name}" is not in the root store`);
    selected.push(...match);
  }
  return selected;
}

/** Returns the certificates in PEM text; throws when there is none or one does not parse. */
export function rootsFromPem(text: string): string[] {
  const roots = splitCertificates(text);
  if (roots.length === 0) throw new Error('no certificate in the trusted roots PEM');
  roots.forEach((pem, index) => {
    try {
      new X509Certificate(pem);
    } catch {
      throw new Error(`certificate ${index + 1} of the trusted roots PEM does not parse`);
    }
  });
  return roots;
}

function commonName(pem: string): string | null {
  try {
    const subject = new X509Certificate(pem).subject;
    return /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1] ?? null;
  } catch {
    return null;
  }
}
