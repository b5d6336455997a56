/**
 * The one-GET path of a renewal run (core/shortcut.ts): a folder the listing shows unchanged since
 * it was last verified whole is decided from its status.json alone.
 */

import { decideRenewal, type RenewalDecision, type RenewalInput } from '../core/renewal.js';
import { defaultDomainConfig } from '../core/domain-config.js';
import { DomainFile } from '../core/layout.js';
import { rootsDigest, statusShortcut } from '../core/shortcut.js';
import { formatStatus, parseStatus } from '../core/status.js';
import type { RenewalContext } from './ports.js';
import type { DomainOutcome, RenewOptions } from './renew-domain.js';
import { askWindow, type AskedWindow } from './renewal-window.js';

/** Returns the renewal decision at this moment of the run, for the facts given: one place builds its schedule and clock inputs. */
export function decideAt(ctx: RenewalContext, options: Pick<RenewOptions, 'force' | 'clockConfirmed'>, facts: Pick<RenewalInput, 'certificate' | 'problem' | 'names' | 'keySha256' | 'renewalInfo'>): RenewalDecision {
  const now = ctx.now();
  return decideRenewal({
    ...facts,
    now,
    nextRunAt: ctx.nextRunAt(now),
    nextCheckAt: ctx.nextCheckAt(now),
    previousRunAt: ctx.previousRunAt(now),
    force: options.force,
    skewAllowanceMs: ctx.skewAllowanceMs,
    clockConfirmed: options.clockConfirmed,
  });
}

/**
 * The one-GET path (core/shortcut.ts): a folder the listing shows unchanged since its status.json
 * was written is decided from status.json alone; when it is not due, that is all the run reads of
 * it. Returns the outcome, or what it learned (the CA's window) for the whole path to go on with;
 * null when the folder must be read whole from the start.
 */
export async function quickLook(domain: string, options: RenewOptions, ctx: RenewalContext): Promise<{ outcome: DomainOutcome } | { window: AskedWindow | null } | null> {
  if (options.force || !options.listing) return null;
  // A folder the listing shows without status.json (a new one) is read whole: no GET for a 404.
  const listed = options.listing.get(domain);
  if (!listed || listed.etags[DomainFile.status] === undefined) return null;
  const read = await ctx.store.readStatus(domain);
  const status = parseStatus(read?.text ?? null);
  const now = ctx.now();
  const shortcut = statusShortcut(status, listed, now, { rootsSha256: rootsDigest(ctx.trustedRoots), defaults: defaultDomainConfig(domain) });
  if ('readAll' in shortcut || !status || !read) return null;
  const { facts } = shortcut;
  const window = await askWindow(domain, facts.certId, status.renewalInfo ?? null, ctx);
  const decision = decideAt(ctx, { force: false, clockConfirmed: options.clockConfirmed }, {
    certificate: { names: facts.names, notBefore: facts.notBefore, notAfter: facts.notAfter, publicKeySha256: facts.publicKeySha256 },
    problem: null,
    names: facts.names,
    keySha256: facts.publicKeySha256,
    renewalInfo: window?.stored ?? null,
  });
  if (decision.renew || 'clockProblem' in decision) return { window };
  if (window?.changed) await ctx.store.writeStatusIfMatch(domain, formatStatus({ ...status, renewalInfo: window.stored }), read.etag).catch(() => false);
  ctx.log('info', 'not due', { domain, step: 'decide', reason: decision.reason, readFromStatus: true });
  return { outcome: { domain, outcome: 'not due', reason: decision.reason, serial: facts.serial, names: facts.names, notAfter: facts.notAfter.toISOString() } };
}
