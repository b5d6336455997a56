/**
 * Syncing one domain folder to the web host: download what changed, verify it, install it
 * atomically, or install a placeholder when there is nothing real yet.
 *
 * Contract: never installs a pair that fails verification, never replaces a real certificate with
 * a placeholder or with an older one (a rollback), and never throws (failures are results).
 *
 * A saved record means "this pair was confirmed served" (a placeholder: "nginx was reloaded with
 * it"); a pair found installed without one (the last run was killed, or its reload failed) is
 * 'adopted': reloaded and confirmed like a new one.
 */

import { describeCertificate, parseCertificate, parsePrivateKey, sha256, splitCertificates } from '../core/certificate.js';
import { describeError } from '../core/errors.js';
import { DomainFile } from '../core/layout.js';
import { createPlaceholder, isPlaceholder } from '../core/placeholder.js';
import { parseStatus } from '../core/status.js';
import { verifyCertificate } from '../core/verify.js';
import type { ListedObject, SyncContext } from './sync-ports.js';
import type { SyncedDomain } from '../adapters/sync-state-file.js';

export type DomainChange =
  | { domain: string; change: 'installed'; serial: string; notAfter: string; names: string[]; previous: string | null; record: SyncedDomain }
  | { domain: string; change: 'placeholder'; previous: string | null; record: SyncedDomain }
  | { domain: string; change: 'adopted'; serial: string; notAfter: string; names: string[]; record: SyncedDomain }
  | { domain: string; change: 'unchanged'; record: SyncedDomain | null }
  | { domain: string; change: 'failed'; reason: string; placeholder?: { previous: string | null; record: SyncedDomain; adopted?: true } };

/** Returns what happened to `domain`, given its listed objects and what the last run recorded. */
export async function syncDomain(domain: string, objects: Map<string, ListedObject>, saved: SyncedDomain | undefined, ctx: SyncContext, count: { downloads: number }): Promise<DomainChange> {
  const crt = objects.get(DomainFile.fullChain);
  const key = objects.get(DomainFile.key);
  const status = objects.get(DomainFile.status);
  try {
    if (crt && key && status && saved && !saved.placeholder && saved.etags[DomainFile.fullChain] === crt.etag && saved.etags[DomainFile.key] === key.etag && (await ctx.files.exists(domain))) {
      return { domain, change: 'unchanged', record: saved };
    }
    const installed = await ctx.files.current(domain);
    if (!crt || !key || !status) {
      if (installed) return unconfirmedPlaceholder(domain, installed, saved, ctx) ?? { domain, change: 'unchanged', record: saved ?? null };
      return await installPlaceholder(domain, ctx);
    }
    const etags = { [DomainFile.fullChain]: crt.etag, [DomainFile.key]: key.etag };

    const [statusText, chainPem, keyPem] = await Promise.all([status, crt, key].map((object) => ctx.bucket.readText(object)));
    count.downloads += 3;
    const recorded = parseStatus(statusText as string);
    if (!recorded || recorded.files[DomainFile.fullChain] !== sha256(chainPem as string) || recorded.files[DomainFile.key] !== sha256(keyPem as string)) {
      return await failed(domain, `${DomainFile.fullChain} and ${DomainFile.key} do not match the digests in ${DomainFile.status} (a renewal is being written, or the files were changed by hand)`, installed, saved, ctx);
    }
    const now = ctx.now();
    let facts;
    try {
      facts = verifyCertificate({ chainPem: chainPem as string, key: parsePrivateKey(keyPem as string), names: [domain], namesMatch: 'include', trustedRoots: ctx.trustedRoots, now });
    } catch (error) {
      return await failed(domain, `refused: ${describeError(error)}`, installed, saved, ctx);
    }
    const record: SyncedDomain = { etags, serial: facts.serial, placeholder: false, installedAt: now.toISOString() };
    if (installed && !isPlaceholder(installed.certificatePem)) {
      const current = installedFacts(installed.certificatePem);
      if (current && current.serial === facts.serial && installed.keyPem === keyPem) {
        // Same pair, new ETags (an object rewritten with the same content): confirmed served already.
        if (saved && !saved.placeholder && saved.serial === facts.serial) return { domain, change: 'unchanged', record: { ...record, installedAt: saved.installedAt } };
        return { domain, change: 'adopted', serial: facts.serial, notAfter: facts.notAfter.toISOString(), names: facts.names, record };
      }
      if (current && facts.notBefore < current.notBefore && current.notAfter > now && current.names.includes(domain)) {
        return await failed(domain, `refused: rollback: the bucket's certificate was issued ${facts.notBefore.toISOString()}, before the installed one (${current.notBefore.toISOString()})`, installed, saved, ctx);
      }
    }
    const previous = await ctx.files.install(domain, chainPem as string, keyPem as string);
    return { domain, change: 'installed', serial: facts.serial, notAfter: facts.notAfter.toISOString(), names: facts.names, previous, record };
  } catch (error) {
    return { domain, change: 'failed', reason: describeError(error) };
  }
}

async function installPlaceholder(domain: string, ctx: SyncContext): Promise<DomainChange> {
  const now = ctx.now();
  const pair = createPlaceholder(domain, now, ctx.placeholderKey());
  const previous = await ctx.files.install(domain, pair.certificatePem, pair.keyPem);
  const serial = describeCertificate(parseCertificate(pair.certificatePem)).serial;
  return { domain, change: 'placeholder', previous, record: { etags: {}, serial, placeholder: true, installedAt: now.toISOString() } };
}

/** Returns the reload of a placeholder found installed without a record (its reload failed, or the run was killed); null for anything else. */
function unconfirmedPlaceholder(domain: string, installed: { certificatePem: string }, saved: SyncedDomain | undefined, ctx: SyncContext): Extract<DomainChange, { change: 'adopted' }> | null {
  if (saved || !isPlaceholder(installed.certificatePem)) return null;
  const facts = installedFacts(installed.certificatePem);
  if (!facts) return null;
  return { domain, change: 'adopted', serial: facts.serial, notAfter: facts.notAfter.toISOString(), names: facts.names, record: { etags: {}, serial: facts.serial, placeholder: true, installedAt: ctx.now().toISOString() } };
}

/**
 * A refused domain keeps what it has; one with nothing installed gets a placeholder, so nginx can
 * start; one whose placeholder was never confirmed reloaded gets the reload.
 */
async function failed(domain: string, reason: string, installed: { certificatePem: string } | null, saved: SyncedDomain | undefined, ctx: SyncContext): Promise<DomainChange> {
  const adopted = installed && unconfirmedPlaceholder(domain, installed, saved, ctx);
  if (adopted) return { domain, change: 'failed', reason, placeholder: { previous: null, record: adopted.record, adopted: true } };
  if (installed) return { domain, change: 'failed', reason };
  const placeholder = await installPlaceholder(domain, ctx);
  return placeholder.change === 'placeholder' ? { domain, change: 'failed', reason, placeholder: { previous: placeholder.previous, record: placeholder.record } } : placeholder;
}

function installedFacts(chainPem: string) {
  try {
    const [leaf] = splitCertificates(chainPem);
    return leaf ? describeCertificate(parseCertificate(leaf)) : null;
  } catch {
    return null;
  }
}
