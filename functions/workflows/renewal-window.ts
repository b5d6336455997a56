/**
 * The CA's renewal window of a stored certificate (ACME Renewal Information, RFC 9773 §4), for the
 * renewal decision: asked at most once a run per certificate, kept in status.json until its
 * Retry-After passes.
 */

import { certificateRenewalInfoId, renewalInfoFresh, renewalInfoWorthStoring, storedRenewalInfo, type StoredRenewalInfo } from '../core/ari.js';
import { splitCertificates } from '../core/certificate.js';
import { describeError } from '../core/errors.js';
import type { LoadedDomain } from './load-domain.js';
import type { RenewalContext } from './ports.js';

/** The ARI identifier of the stored certificate (the leaf of domain.crt), or null. */
export function storedCertificateId(loaded: LoadedDomain): string | null {
  const [leaf] = loaded.files.fullChain ? splitCertificates(loaded.files.fullChain) : [];
  return leaf ? certificateRenewalInfoId(leaf) : null;
}

/**
 * The CA's renewal window for the stored certificate (RFC 9773 §4): from status.json while the
 * last answer's Retry-After stands, else asked anew. Null when the CA offers no ARI, when there is
 * no verified certificate to ask about, or when the CA's answer failed and nothing is stored for
 * this certificate (then the schedule alone decides, as RFC 9773 §4.3 asks). Never throws.
 */
export async function renewalWindow(domain: string, loaded: LoadedDomain, ctx: RenewalContext): Promise<AskedWindow | null> {
  if (!loaded.verified) return null;
  return askWindow(domain, storedCertificateId(loaded), loaded.status?.renewalInfo ?? null, ctx);
}

export type AskedWindow = { stored: StoredRenewalInfo; changed: boolean };

/** The window of the certificate `certId` (see renewalWindow), given what status.json kept of the last answer. */
export async function askWindow(domain: string, certId: string | null, previous: StoredRenewalInfo | null, ctx: RenewalContext): Promise<AskedWindow | null> {
  const url = (await ctx.directory.facts())?.renewalInfoUrl;
  if (!certId || !url) return null;
  const now = ctx.now();
  if (previous && renewalInfoFresh(previous, certId, now)) return { stored: previous, changed: false };
  try {
    const info = await ctx.directory.renewalInfo(url, certId);
    const stored = storedRenewalInfo(certId, info, previous, now, ctx.random());
    ctx.log('info', 'the CA\'s renewal window', { domain, step: 'decide', windowStart: stored.windowStart, windowEnd: stored.windowEnd, selectedAt: stored.selectedAt, ...(stored.explanationUrl ? { explanationURL: stored.explanationUrl } : {}) });
    return { stored, changed: renewalInfoWorthStoring(stored, previous, ctx.nextCheckAt(now)) };
  } catch (error) {
    const kept = previous?.certId === certId ? previous : null;
    ctx.log('warn', kept ? 'could not ask the CA for the renewal window; using the one it gave last' : 'could not ask the CA for the renewal window; the schedule decides', { domain, step: 'decide', reason: describeError(error) });
    return kept ? { stored: kept, changed: false } : null;
  }
}
