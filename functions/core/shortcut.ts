/**
 * A run with nothing due costs one GET per domain: status.json, when the listing shows that
 * nothing it describes changed since it was written (the ETags of config.json, domain.crt and
 * domain.key are the ones it recorded), vouches for the certificate's facts, which were verified
 * when it was written. Anything else (a file changed, a failed attempt, a revocation, a lock, a
 * status.json from before) reads the whole folder, as before. Pure.
 */

import { DomainFile } from './layout.js';
import type { KeyType } from './domain-config.js';
import type { DomainStatus } from './status.js';

/** What the listing shows of one domain folder. */
export interface ListedFolder {
  /** ETags by file name (config.json, domain.crt, domain.key, …). */
  etags: Record<string, string>;
  locked: boolean;
}

/** The facts a decision needs, as status.json vouches for them. */
export interface VouchedFacts {
  names: string[];
  keyType: KeyType;
  notBefore: Date;
  notAfter: Date;
  publicKeySha256: string;
  certId: string;
  serial: string;
}

/** Returns the facts status.json vouches for, or why the folder must be read whole. */
export function statusShortcut(status: DomainStatus | null, listed: ListedFolder | undefined): { facts: VouchedFacts } | { readAll: string } {
  if (!listed) return { readAll: 'not in the listing' };
  if (!status) return { readAll: 'no readable status.json' };
  if (!status.etags || !status.publicKeySha256 || !status.certId) return { readAll: 'status.json from before the shortcut' };
  if (!status.serial || !status.notBefore || !status.notAfter || !status.keyType || status.names.length === 0) return { readAll: 'status.json names no certificate' };
  if (listed.locked) return { readAll: 'a renewal lock stands' };
  if (status.lastAttempt?.outcome === 'failed') return { readAll: 'the last attempt failed' };
  if (status.revoked || status.refusedKeySha256) return { readAll: 'a revocation or a refused key is recorded' };
  for (const file of [DomainFile.fullChain, DomainFile.key, DomainFile.config]) {
    if ((status.etags[file] ?? null) !== (listed.etags[file] ?? null)) return { readAll: `${file} changed since status.json was written` };
  }
  const notBefore = new Date(status.notBefore);
  const notAfter = new Date(status.notAfter);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) return { readAll: 'status.json has unreadable dates' };
  return { facts: { names: status.names, keyType: status.keyType, notBefore, notAfter, publicKeySha256: status.publicKeySha256, certId: status.certId, serial: status.serial } };
}
