/**
 * Renewing one domain, top to bottom in protocol order:
 * load → decide (with the CA's renewal window, RFC 9773) → lock → prepare key → preflight →
 * account → order (profile, `replaces`) → authorize → publish challenge → validate → finalize →
 * download → verify → store → clean up.
 * A folder whose status.json is missing or unreadable, but whose certificate and key verify, is
 * repaired instead: load → decide → lock → repair (status.json rewritten from the verified files).
 *
 * Contract: returns an outcome and never throws; a certificate that fails verification is never
 * stored; challenge objects, the probe and the lock are removed in `finally`; a failure is
 * recorded in status.json's lastAttempt.
 */

import type { KeyObject } from 'node:crypto';
import { keySha256, parsePrivateKey, sha256, splitCertificates, type CertificateFacts } from '../core/certificate.js';
import { describeError, DomainStepError, type RenewStep } from '../core/errors.js';
import { certificateRenewalInfoId, type StoredRenewalInfo } from '../core/ari.js';
import { createCsr, createDomainKey } from '../core/keys.js';
import { DomainFile, challengePath, challengeUrl, isChallengeToken } from '../core/layout.js';
import { heldReason, judgeLock, lockBody, lockTtlMs, parseLockHolder, type LockHolder } from '../core/locks.js';
import { replacementProblem, scheduleWarning } from '../core/renewal.js';
import { intermediatesNotAfter, rootsDigest, vouchFor, voucherStale, type ListedFolder } from '../core/shortcut.js';
import { failedAttemptStatus, formatStatus, issuedStatus, parseStatus, repairedStatus, statusRepairReason, type DomainStatus } from '../core/status.js';
import { verifyCertificate } from '../core/verify.js';
import { judgeFolder, loadDomain, type LoadedDomain } from './load-domain.js';
import { OrderBudgetSpentError, takeOrderSlot } from './order-budget.js';
import { decideAt, quickLook } from './quick-look.js';
import { renewalWindow, storedCertificateId, type AskedWindow } from './renewal-window.js';
import { KeyRefusedError, type HeldLock, type Issuer, type PendingChallenge, type PlacedOrder, type RenewalContext, type StoredDomainFiles } from './ports.js';

/** What happened to a domain; `events` are things worth telling once (a lock taken over). */
export type DomainOutcome = (
  /** `warnings`: what could not be checked as the CA will, or a schedule too sparse for the lifetime; `lapseRisk`: the runs are too sparse to keep the certificate (people are told). */
  | { domain: string; outcome: 'renewed'; reason: string; serial: string; names: string[]; notAfter: string; warnings?: string[]; lapseRisk?: string }
  | { domain: string; outcome: 'repaired'; reason: string; serial: string; names: string[]; notAfter: string }
  | { domain: string; outcome: 'not due'; reason: string; serial: string | null; names: string[]; notAfter: string | null }
  /**
   * Due, but not renewed in this run (another run holds the lock, too little time was left, or the
   * order budget is spent: then `until` says when it frees): the backlog.
   */
  | { domain: string; outcome: 'skipped'; reason: string; until?: string }
  | { domain: string; outcome: 'failed'; step: RenewStep; reason: string }
  /** Due, and handed to the workers' queue (core/fan-out.ts): a worker renews it. */
  | { domain: string; outcome: 'queued'; reason: string }
) & { events?: string[] };

type Step = <T>(name: RenewStep, message: string, run: () => Promise<T> | T, fields?: Record<string, unknown>) => Promise<T>;

/** What a run was asked to do for the domains it renews, and what it knows of its clock. */
export interface RenewOptions {
  /** Renew regardless of the renewal window. */
  force: boolean;
  /** Take a domain's lock even when another run's lock looks live (after a crash, by hand). */
  breakLocks: boolean;
  /** Why this run may place no order (its clock is too far off the CA's), or null. */
  ordersBlocked: string | null;
  /** True when this run's clock was measured against the CA's and is within the allowance. */
  clockConfirmed: boolean;
  /** What the run's listing showed of each folder (the one-GET path, core/shortcut.ts); absent: read every folder whole. */
  listing?: ReadonlyMap<string, ListedFolder>;
  /**
   * Set on the scheduled run's deciding pass when it may fan out (renew-all.ts): a domain found
   * due is handed to it, unlocked and untouched, instead of renewed here.
   */
  handOff?: (domain: string, reason: string) => DomainOutcome;
}

/** Renews `domain` when it is due (or forced), repairs a folder whose status.json or pair is off, and returns what happened. */
export async function renewDomain(domain: string, options: RenewOptions, ctx: RenewalContext): Promise<DomainOutcome> {
  const step: Step = async (name, message, run, fields = {}) => {
    ctx.log('info', message, { domain, step: name, ...fields });
    try {
      return await run();
    } catch (error) {
      throw error instanceof DomainStepError ? error : new DomainStepError(domain, name, describeError(error), { cause: error });
    }
  };
  // What the folder held when last read: a failure is recorded against it, never against a guess.
  let read: StoredDomainFiles | null = null;
  let window: AskedWindow | null = null;
  // The files the run's listing showed are the only ones read (a new folder costs no GET); one
  // that appeared since is seen under the lock, where one listing compares every file's ETag.
  const listed = options.listing?.get(domain);
  const load = () => loadDomain(domain, ctx, (files) => (read = files), listed ? new Set(Object.keys(listed.etags)) : undefined);
  try {
    const quick = await step('load', 'reading status.json', () => quickLook(domain, options, ctx));
    if (quick && 'outcome' in quick) return quick.outcome;
    let loaded = await step('load', 'loading domain folder', () => load());
    // Asked once per run: the decision under the lock uses the same answer.
    window = quick?.window !== undefined && quick.window?.stored.certId === storedCertificateId(loaded) ? quick.window : await renewalWindow(domain, loaded, ctx);
    let decision = await step('decide', 'deciding', () => decide(loaded, window?.stored ?? null, options, ctx));
    let repair = repairReason(loaded, decision);
    if (!decision.renew && !repair) return await notDue(domain, loaded, decision.reason, window, ctx);
    if (decision.renew && options.ordersBlocked) return blocked(domain, decision.reason, ctx);
    if (decision.renew && options.handOff) return options.handOff(domain, decision.reason);
    // The run's account (loaded once) gets ready while the lock is taken; a failure is reported at `account`.
    if (decision.renew) ctx.issuer().catch(() => undefined);

    const lock = await step('lock', decision.renew ? `renewal due: ${decision.reason}; taking the renewal lock` : `${repair}; taking the renewal lock`, () => takeLock(domain, options.breakLocks, ctx));
    if (!lock.held) {
      ctx.log('warn', 'another run holds the renewal lock; leaving the domain to it', { domain, step: 'lock', holder: lock.holder });
      return { domain, outcome: 'skipped', reason: heldReason(lock.holder) };
    }
    const events = lock.event ? [lock.event] : [];
    try {
      // Another run may have renewed the domain between the first look and the lock: one listing
      // tells, and the folder is read and judged again only when a file changed.
      const before: LoadedDomain = loaded;
      const again = await step('load', 'checking the folder again under the lock', () => ctx.store.readDomainAgain(domain, before.files));
      read = again.files;
      if (again.files !== before.files) loaded = await step('load', 'loading the folder again under the lock (it changed)', () => judgeFolder(domain, again.files, ctx));
      // A folder with nothing in it but the lock was removed since this run listed it (acme-certs remove).
      if (!again.exists) {
        ctx.log('info', 'the folder was removed after this run listed it; nothing to renew', { domain, step: 'load' });
        return withEvents({ domain, outcome: 'not due', reason: 'the folder was removed after this run listed it', serial: null, names: [], notAfter: null }, events);
      }
      const asked = window;
    const windowNow = asked && storedCertificateId(loaded) === asked.stored.certId ? asked : null;
      decision = await step('decide', 'deciding again under the lock', () => decide(loaded, windowNow?.stored ?? null, options, ctx));
      repair = repairReason(loaded, decision);
      if (repair) return withEvents(await step('store', `${repair}; repairing the folder from the verified certificate and key`, () => repairFolder(domain, loaded, repair as string, ctx)), events);
      if (!decision.renew) return withEvents(await notDue(domain, loaded, decision.reason, windowNow, ctx), events);
      return withEvents(await issue(domain, loaded, decision.reason, ctx, step), events);
    } catch (error) {
      if (error instanceof DomainStepError) error.events = events;
      throw error;
    } finally {
      await ctx.store.releaseLock(lock.held).catch((error: unknown) => warn(ctx, domain, 'could not release the renewal lock (it expires by itself)', error));
    }
  } catch (error) {
    const failure = error instanceof DomainStepError ? error : new DomainStepError(domain, 'load', describeError(error), { cause: error });
    ctx.log('error', 'renewal failed', { domain, step: failure.step, reason: failure.reason });
    await recordFailure(domain, failure, read, window?.stored ?? null, ctx);
    return withEvents({ domain, outcome: 'failed', step: failure.step, reason: failure.reason }, failure.events ?? []);
  }
}

/** Why the folder needs a repair rather than an order (a pair to put back, a status.json to rewrite), or null. */
function repairReason(loaded: LoadedDomain, decision: { renew: boolean }): string | null {
  if (decision.renew) return null;
  return loaded.restore?.reason ?? statusRepairReason(loaded.files.status, loaded.verified);
}

/** A due domain this run may not order for (its clock is off the CA's: renew-all.ts says why, once). */
function blocked(domain: string, reason: string, ctx: RenewalContext): DomainOutcome {
  ctx.log('warn', 'due, but this run places no order: its clock is too far off the CA\'s', { domain, step: 'decide', reason });
  return { domain, outcome: 'skipped', reason: 'not renewed: this run\'s clock is too far off the CA\'s (the run\'s failure says why)' };
}

function withEvents(outcome: DomainOutcome, events: string[]): DomainOutcome {
  return events.length > 0 ? { ...outcome, events: [...(outcome.events ?? []), ...events] } : outcome;
}

/**
 * Takes the domain's renewal lock: creates it, or takes over one that expired, is broken (an
 * unreadable object, an expiry no run would set) or that the run was asked to break, saying so.
 * A live lock is left to its holder. The lock stands no longer than this invocation can use it.
 */
async function takeLock(domain: string, breakLocks: boolean, ctx: RenewalContext): Promise<{ held: HeldLock; event?: string } | { held: null; holder: LockHolder }> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const now = ctx.now();
    const body = lockBody(ctx.runId, now, lockTtlMs(ctx.lockTtlMs, ctx.timeLeftMs?.()));
    const created = await ctx.store.createLock(domain, body);
    if (created) return { held: created };
    const existing = await ctx.store.readLock(domain);
    if (!existing) continue; // released meanwhile: try to create it again
    const judgement = judgeLock(existing.text, now, ctx.lockTtlMs, breakLocks);
    if (!judgement.take) return { held: null, holder: judgement.holder };
    const replaced = await ctx.store.replaceLock(domain, existing.etag, body);
    if (replaced) {
      ctx.log('warn', judgement.detail, { domain, step: 'lock' });
      return { held: replaced, event: `${domain}: ${judgement.detail}` };
    }
  }
  const existing = await ctx.store.readLock(domain);
  return { held: null, holder: parseLockHolder(existing?.text) ?? { runId: 'unknown', acquiredAt: 'unknown', expiresAt: 'unknown' } };
}

/**
 * Repairs a folder without an order, and records that it did: puts back the pair status.json
 * commits to (a renewal wrote other files and failed before its commit), or rewrites a status.json
 * that is lost or describes other files from the folder's verified certificate and key.
 */
async function repairFolder(domain: string, loaded: LoadedDomain, reason: string, ctx: RenewalContext): Promise<DomainOutcome> {
  const certificate = loaded.certificate as CertificateFacts;
  const now = ctx.now();
  if (loaded.restore) {
    const versions = await ctx.store.restorePair(domain, { key: loaded.restore.key, fullChain: loaded.restore.fullChain });
    const status = loaded.status as DomainStatus;
    const restored: DomainStatus = { ...status, ...(Object.keys(versions).length === 2 ? { versions } : {}), lastAttempt: { at: now.toISOString(), runId: ctx.runId, outcome: 'repaired', reason } };
    await ctx.store.commitStatus(domain, formatStatus(restored));
    ctx.log('warn', 'the pair status.json commits to was put back', { domain, step: 'store', reason, serial: certificate.serial });
    return { domain, outcome: 'repaired', reason, serial: certificate.serial, names: certificate.names, notAfter: certificate.notAfter.toISOString(), events: [`${domain}: ${reason}; put back the pair status.json commits to (serial ${certificate.serial})`] };
  }
  const { files } = loaded;
  const digests: Record<string, string> = {};
  for (const [file, text] of [[DomainFile.key, files.key], [DomainFile.csr, files.csr], [DomainFile.fullChain, files.fullChain]] as const) if (text !== null) digests[file] = sha256(text);
  const status = repairedStatus({ domain, keyType: loaded.config.keyType, certificate, files: digests, versions: pairVersions(files.versions), at: now, runId: ctx.runId, reason });
  await ctx.store.commitStatus(domain, formatStatus(status));
  ctx.log('warn', 'status.json repaired', { domain, step: 'store', reason, serial: certificate.serial });
  return { domain, outcome: 'repaired', reason, serial: certificate.serial, names: certificate.names, notAfter: certificate.notAfter.toISOString(), events: [`${domain}: ${reason}; rewritten from the verified certificate and key (serial ${certificate.serial})`] };
}

/** The ACME exchange and the store, for a domain that is due and locked. */
async function issue(domain: string, loaded: LoadedDomain, reason: string, ctx: RenewalContext, step: Step): Promise<DomainOutcome> {
  const { names, keyType, profile } = loaded.config;
  const keyPlan = planKey(loaded);
  // The key, the checks before the order and the run's account (loaded once, on the first need) do
  // not wait for one another; a failure is that of the first step in this order that failed.
  const [prepared, { directory, warnings }, issuer] = await firstFailure(
    step('prepare key', keyPlan.message, () => prepareKey(domain, loaded, keyPlan.reuse), { keyType }),
    (async () => {
      const directory = await ctx.directory.facts();
      if (profile) await step('order', `checking profile "${profile}" against the CA's directory`, () => checkProfile(profile, directory));
      return { directory, warnings: await step('preflight', 'checking that every name serves the challenge prefix', () => preflight(domain, names, ctx), { names }) };
    })(),
    step('account', 'loading ACME account', () => ctx.issuer()),
  );
  // Said before the order: when the CA then fails a name, this is what explains it.
  for (const warning of warnings) ctx.log('warn', warning, { domain, step: 'preflight' });
  // RFC 9773 §5: name the certificate this order replaces, only to a CA that offers ARI.
  const replaces = directory?.renewalInfoUrl ? storedCertificateId(loaded) : null;
  // Every run and worker of the account shares the budget; an order that carries `replaces` is exempt.
  const spent = ctx.orderBudget ? await step('order', 'taking a slot of the order budget', () => budgetSpent(domain, replaces !== null, ctx.orderBudget as NonNullable<RenewalContext['orderBudget']>, ctx)) : null;
  if (spent) {
    ctx.log('warn', 'due, but the order budget is spent: left for a later run', { domain, step: 'order', reason: spent.message });
    return { domain, outcome: 'skipped', reason: `not renewed yet: ${spent.message}`, until: spent.freeAt.toISOString() };
  }
  const placed = await step('order', 'placing order', () => issuer.placeOrder(names, { profile, replaces }), { names, ...(profile ? { profile } : {}), ...(replaces ? { replaces } : {}) });
  if (placed.replacesDropped) ctx.log('warn', `ordered without "replaces": ${placed.replacesDropped}`, { domain, step: 'order' });
  const { order } = placed;
  const challenges = await step('authorize', 'fetching authorizations', () => issuer.pendingChallenges(order));

  const published: string[] = [];
  try {
    await step('publish challenge', 'publishing HTTP-01 responses', () => publishAll(domain, challenges, published, ctx), { count: challenges.length });
    await step('validate', 'asking the CA to validate', () => validateAll(domain, order, challenges, issuer, ctx).catch((error: unknown) => {
      // What the preflight could not check (an AAAA record it cannot reach) is the likeliest reason.
      if (warnings.length > 0 && error instanceof DomainStepError) throw new DomainStepError(domain, 'validate', `${error.reason} (the preflight warned: ${warnings.join('; ')})`, { cause: error.cause });
      throw error;
    }), { names: challenges.map((challenge) => challenge.name) });
  } catch (error) {
    await removeAll(published, ctx, domain);
    throw error;
  }
  // Every name is valid: the CA is done with the challenge objects, removed while the order is finalized.
  const removed = removeAll(published, ctx, domain);
  removed.catch(() => undefined); // awaited below; removeAll reports its own failures
  try {
    const valid = await step('finalize', 'finalizing order', () => issuer.finalize(order, prepared.csrPem).catch((error: unknown) => {
      if (error instanceof KeyRefusedError) error.keySha256 = keySha256(prepared.key);
      throw error;
    }));
    const chainPem = await step('download', 'downloading certificate', () => issuer.downloadCertificate(valid));
    const facts = await step('verify', 'verifying certificate chain, key, names and dates', () => verifyIssued(chainPem, prepared.key, loaded, ctx));
    await step('store', 'storing certificate', () => store(domain, loaded, prepared, chainPem, facts, ctx), { serial: facts.serial, notAfter: facts.notAfter.toISOString(), newKey: prepared.isNew });
    return renewed(domain, reason, facts, warnings, ctx);
  } finally {
    await removed;
  }
}

/** The outcome of a stored renewal, with a warning when the schedule's runs are too sparse for the certificate's lifetime. */
function renewed(domain: string, reason: string, facts: CertificateFacts, warnings: string[], ctx: RenewalContext): DomainOutcome {
  const now = ctx.now();
  const cadence = scheduleWarning({ certificate: facts, previousRunAt: ctx.previousRunAt(now), nextRunAt: ctx.nextRunAt(now), checkPeriodMs: longestCheckPeriod(ctx, now) });
  if (cadence) {
    warnings.push(cadence.warning);
    ctx.log('warn', cadence.warning, { domain, step: 'store' });
  }
  ctx.log('info', 'renewed', { domain, step: 'store', serial: facts.serial, notAfter: facts.notAfter.toISOString() });
  return { domain, outcome: 'renewed', reason, serial: facts.serial, names: facts.names, notAfter: facts.notAfter.toISOString(), ...(warnings.length > 0 ? { warnings } : {}), ...(cadence?.lapseRisk ? { lapseRisk: cadence.warning } : {}) };
}

/** Waits for every promise; throws the failure of the first one (in the order given) that failed, else returns their values. */
async function firstFailure<T extends unknown[]>(...promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as T;
}

/** Takes a slot of the order budget; returns why none is left and when one frees (the order waits), or null when one was taken. */
async function budgetSpent(domain: string, exempt: boolean, orderBudget: NonNullable<RenewalContext['orderBudget']>, ctx: RenewalContext): Promise<OrderBudgetSpentError | null> {
  try {
    await takeOrderSlot(orderBudget.ledger, { domain, exempt, budget: orderBudget.budget, now: ctx.now });
    return null;
  } catch (error) {
    if (error instanceof OrderBudgetSpentError) return error;
    throw error;
  }
}

/** The longest time between two runs of any kind over the coming month (the check runs' period, or the schedule's when that is shorter). */
function longestCheckPeriod(ctx: RenewalContext, now: Date): number {
  let longest = 0;
  let at = ctx.nextCheckAt(now);
  for (let run = 0; run < 62; run += 1) {
    const next = ctx.nextCheckAt(at);
    longest = Math.max(longest, next.getTime() - at.getTime());
    at = next;
  }
  return longest;
}

/** Throws naming the profiles on offer when the CA's directory does not offer `profile` (before any order is placed). */
function checkProfile(profile: string, directory: { profiles: Record<string, string> | null } | null): void {
  if (!directory) throw new Error(`config.json asks for profile "${profile}", and the CA's directory could not be read to check it`);
  if (!directory.profiles) throw new Error(`config.json asks for profile "${profile}", and the CA offers no profiles (its directory has no meta.profiles): remove "profile" to use the CA's default`);
  if (!Object.hasOwn(directory.profiles, profile)) throw new Error(`config.json asks for profile "${profile}", which the CA does not offer (it offers: ${Object.keys(directory.profiles).sort().join(', ')})`);
}

interface PreparedKey {
  keyPem: string;
  key: KeyObject;
  isNew: boolean;
  csrPem: string;
}

/**
 * Whether this renewal keeps the domain key: only with `"reuseKey": true`, a usable key, and no
 * refusal of it by the CA at the last attempt (a blocked key would fail every renewal after).
 */
function planKey(loaded: LoadedDomain): { reuse: boolean; message: string } {
  if (loaded.key === null) return { reuse: false, message: 'creating domain key' };
  if (loaded.status?.refusedKeySha256 === loaded.key.sha256) return { reuse: false, message: 'creating a new domain key: the stored one was refused by the CA or revoked for key compromise' };
  if (!loaded.config.reuseKey) return { reuse: false, message: 'creating a new domain key (one for every renewal; "reuseKey": true in config.json keeps it)' };
  return { reuse: true, message: 'reusing domain key ("reuseKey": true)' };
}

/** Reuses the domain key or makes a new one, and makes the order's CSR with it (never the stored one: no CSR read from the bucket is sent to the CA). */
async function prepareKey(domain: string, loaded: LoadedDomain, reuse: boolean): Promise<PreparedKey> {
  const { names, keyType } = loaded.config;
  const kept = reuse ? loaded.key : null;
  const keyPem = kept?.pem ?? (await createDomainKey(keyType));
  const key = kept?.object ?? parsePrivateKey(keyPem);
  return { keyPem, key, isNew: kept === null, csrPem: await createCsr(domain, names, keyPem) };
}

/**
 * Publishes a probe object and fetches it through every name as the CA would. A name that does not
 * answer with the probe fails the domain before any order is placed.
 */
async function preflight(domain: string, names: readonly string[], ctx: RenewalContext): Promise<string[]> {
  const token = ctx.randomToken();
  const body = `preflight ${ctx.randomToken()}`;
  await ctx.challenges.publish(token, body);
  const warnings: string[] = [];
  try {
    const failures = await Promise.all(names.map(async (name) => {
      const url = challengeUrl(name, token);
      try {
        const response = await ctx.preflight.fetch(name, challengePath(token));
        warnings.push(...(response.warnings ?? []));
        if (response.status === 200 && response.body.trim() === body) return null;
        const answer = `${response.status} ${JSON.stringify(response.body.slice(0, 120))}`;
        return response.status === 200 ? `${url} answered ${answer}, not the probe the run published (another server answers for this name, or the challenge proxy points elsewhere)` : `${url} answered ${answer}`;
      } catch (error) {
        return `${url} failed: ${describeError(error)}`;
      }
    }));
    const problems = failures.filter((failure): failure is string => failure !== null).sort();
    if (problems.length > 0) throw new DomainStepError(domain, 'preflight', problems.join('; '));
    return warnings.sort();
  } finally {
    await removeAll([token], ctx, domain);
  }
}

/** Publishes every name's response at once; `published` holds each token whose PUT was sent (removed afterwards whatever happened). */
async function publishAll(domain: string, challenges: readonly PendingChallenge[], published: string[], ctx: RenewalContext): Promise<void> {
  const refused = challenges.find((challenge) => !isChallengeToken(challenge.token));
  if (refused) throw new DomainStepError(domain, 'publish challenge', `CA sent a token that is not base64url for ${refused.name}`);
  published.push(...challenges.map((challenge) => challenge.token));
  await firstFailure(...challenges.map((challenge) => ctx.challenges.publish(challenge.token, challenge.keyAuthorization)));
}

/**
 * Answers every challenge and waits for all of them (RFC 8555 §7.5.1); the challenge objects stay
 * published until the CA has finished with each name. On any failure the authorizations are
 * deactivated (§7.5.2) before the objects are removed.
 */
async function validateAll(domain: string, order: PlacedOrder, challenges: readonly PendingChallenge[], issuer: Issuer, ctx: RenewalContext): Promise<void> {
  if (challenges.length === 0) return;
  // A failure of the exchange as a whole (the CA stopped answering) leaves every name in doubt.
  const results = await issuer.validate(order, challenges).catch((error: unknown) => challenges.map(() => describeError(error)));
  const failures = [...new Set(results.filter((result): result is string => result !== null))];
  if (failures.length === 0) return;
  const notDeactivated = await issuer.abandon(challenges.filter((_, index) => results[index] !== null));
  if (notDeactivated.length > 0) warn(ctx, domain, `could not deactivate the authorizations of ${notDeactivated.join(', ')}`, null);
  throw new DomainStepError(domain, 'validate', failures.join('; '));
}

/** Returns the facts of a chain that passes verification and is no older than the stored certificate; throws otherwise. */
function verifyIssued(chainPem: string, key: KeyObject, loaded: LoadedDomain, ctx: RenewalContext): CertificateFacts {
  const now = ctx.now();
  const facts = verifyCertificate({ chainPem, key, names: loaded.config.names, namesMatch: 'exact', trustedRoots: ctx.trustedRoots, now, skewAllowanceMs: ctx.skewAllowanceMs });
  const refusal = replacementProblem({ stored: loaded.certificate, storedProblem: loaded.problem, issued: facts, names: loaded.config.names, storedKeySha256: loaded.key?.sha256 ?? null, now });
  if (refusal) throw new Error(refusal);
  return facts;
}

/**
 * Writes the files, then status.json last: the commit point a reader checks the files against,
 * naming them by digest and by S3 version. Until it is written, readers keep the previous pair.
 */
async function store(domain: string, loaded: LoadedDomain, prepared: PreparedKey, chainPem: string, facts: CertificateFacts, ctx: RenewalContext): Promise<void> {
  const [leaf = '', ...intermediates] = splitCertificates(chainPem);
  const files = { csr: prepared.csrPem, signed: `${leaf}\n`, intermediate: `${intermediates.join('\n')}\n`, fullChain: `${[leaf, ...intermediates].join('\n')}\n` };
  const digests: Record<string, string> = {
    [DomainFile.key]: sha256(prepared.keyPem),
    [DomainFile.csr]: sha256(files.csr),
    [DomainFile.signed]: sha256(files.signed),
    [DomainFile.intermediate]: sha256(files.intermediate),
    [DomainFile.fullChain]: sha256(files.fullChain),
  };
  const written = await ctx.store.writeFiles(domain, { ...files, ...(prepared.isNew ? { key: prepared.keyPem } : {}) });
  const versions = pairVersions({ ...loaded.files.versions, ...written.versions });
  const at = ctx.now();
  const base = issuedStatus({ domain, keyType: loaded.config.keyType, certificate: facts, files: digests, versions, at, runId: ctx.runId });
  const vouched = vouchFor({ status: base, certificate: facts, config: loaded.config, fileEtags: { ...loaded.files.etags, ...written.etags }, certId: certificateRenewalInfoId(leaf), chainNotAfter: intermediatesNotAfter(chainPem), rootsSha256: rootsDigest(ctx.trustedRoots), now: at });
  const status = vouched ? { ...base, vouched } : base;
  await ctx.store.commitStatus(domain, formatStatus(status));
}

/** The versions status.json pins: the pair hosts read, both or neither (an unversioned bucket). */
function pairVersions(versions: Record<string, string>): Record<string, string> {
  const fullChain = versions[DomainFile.fullChain];
  const key = versions[DomainFile.key];
  return fullChain && key ? { [DomainFile.fullChain]: fullChain, [DomainFile.key]: key } : {};
}

/** The renewal decision; throws when the stored certificate says this run's clock is wrong (no order would help). */
function decide(loaded: LoadedDomain, renewalInfo: StoredRenewalInfo | null, options: RenewOptions, ctx: RenewalContext) {
  const decision = decideAt(ctx, options, { certificate: loaded.certificate, problem: loaded.problem, names: loaded.config.names, keySha256: loaded.key?.sha256 ?? null, renewalInfo });
  if ('clockProblem' in decision) throw new Error(decision.reason);
  return decision;
}

/**
 * A domain not due. status.json is rewritten quietly (with If-Match: a renewal writing meanwhile
 * wins) only when there is something to keep: a new renewal window from the CA, or the versions
 * of the pair it describes, for a status.json from before versions were pinned.
 */
async function notDue(domain: string, loaded: LoadedDomain, reason: string, window: { stored: StoredRenewalInfo; changed: boolean } | null, ctx: RenewalContext): Promise<DomainOutcome> {
  ctx.log('info', 'not due', { domain, step: 'decide', reason });
  const versions = pairVersions(loaded.files.versions);
  const pinVersions = !loaded.status?.versions && Object.keys(versions).length === 2;
  const keepWindow = window?.changed === true;
  // Verified whole just now: status.json vouches for the folder again (a status.json from before,
  // or one whose voucher expired or no longer fits), so the next runs read only it.
  const now = ctx.now();
  const vouched = loaded.verified && loaded.status && loaded.files.fullChain ? vouchFor({ status: loaded.status, certificate: loaded.verified.certificate, config: loaded.config, fileEtags: loaded.files.etags, certId: storedCertificateId(loaded), chainNotAfter: intermediatesNotAfter(loaded.files.fullChain), rootsSha256: rootsDigest(ctx.trustedRoots), now }) : null;
  const revouch = vouched !== null && voucherStale(loaded.status?.vouched, vouched, now);
  if (loaded.status && (pinVersions || keepWindow || revouch) && loaded.verified && loaded.files.statusEtag) {
    const next = { ...loaded.status, ...(pinVersions ? { versions } : {}), ...(keepWindow && window ? { renewalInfo: window.stored } : {}), ...(revouch && vouched ? { vouched } : {}) };
    const written = await ctx.store.writeStatusIfMatch(domain, formatStatus(next), loaded.files.statusEtag).catch(() => false);
    if (written && pinVersions) ctx.log('info', 'status.json now names the S3 versions of its pair', { domain, step: 'store' });
  }
  const certificate = loaded.certificate;
  return { domain, outcome: 'not due', reason, serial: certificate?.serial ?? null, names: certificate?.names ?? loaded.config.names, notAfter: certificate?.notAfter.toISOString() ?? null };
}

/** Removes the objects at once; never throws (a failure is a warning: the bucket's lifecycle rule expires them). */
async function removeAll(tokens: string[], ctx: RenewalContext, domain: string): Promise<void> {
  await Promise.all(tokens.map((token) => ctx.challenges.remove(token).catch((error: unknown) => warn(ctx, domain, `could not remove challenge object ${token}`, error))));
}

/**
 * Records a failed attempt in status.json, keeping everything else it holds (the certificate's
 * facts, digests, versions). The write is conditional on the status.json that was read (its
 * ETag; or that there was none), and tried again on a fresh read if someone else wrote it
 * meanwhile, so it never overwrites a renewal. When the folder could not be read, nothing is
 * written: what is known must not be replaced by a guess. A failure to take the lock (another run
 * renews) or to load the run's ACME account (the run's failure, reported once) is not an attempt.
 */
async function recordFailure(domain: string, failure: DomainStepError, read: StoredDomainFiles | null, window: StoredRenewalInfo | null, ctx: RenewalContext): Promise<void> {
  if (failure.step === 'lock' || failure.step === 'account') return;
  if (!read) {
    warn(ctx, domain, 'status.json could not be read, so the failed attempt is not recorded in it (the log and the message have it)', null);
    return;
  }
  let current: { text: string | null; etag: string | null } = { text: read.status, etag: read.statusEtag };
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    if (current.text !== null && parseStatus(current.text) === null) {
      warn(ctx, domain, 'status.json cannot be parsed, so the failed attempt is not written over it (the next run repairs it from files that verify)', null);
      return;
    }
    if (attempt > 1 && current.text === null && read.status !== null) return;
    const previous = parseStatus(current.text);
    const refusedKeySha256 = failure.cause instanceof KeyRefusedError ? failure.cause.keySha256 : undefined;
    // The window is kept only for the certificate it was asked for (a renewal may have stored another meanwhile).
    const renewalInfo = window && previous?.serial && storedRenewalInfoFor(previous, window) ? window : undefined;
    const status = failedAttemptStatus(previous, domain, { at: ctx.now(), runId: ctx.runId, step: failure.step, reason: failure.reason }, { ...(refusedKeySha256 ? { refusedKeySha256 } : {}), ...(renewalInfo ? { renewalInfo } : {}) });
    try {
      if (await ctx.store.writeStatusIfMatch(domain, formatStatus(status), current.etag)) return;
      const again = await ctx.store.readStatus(domain);
      current = { text: again?.text ?? null, etag: again?.etag ?? null };
    } catch (error) {
      warn(ctx, domain, 'could not record the failed attempt in status.json', error);
      return;
    }
  }
  warn(ctx, domain, 'could not record the failed attempt in status.json: it kept changing', null);
}

/** True when `window` was asked for the certificate `status` describes (its serial is the identifier's second half). */
function storedRenewalInfoFor(status: DomainStatus, window: StoredRenewalInfo): boolean {
  const serial = window.certId.split('.')[1];
  if (!serial || !status.serial) return false;
  try {
    return BigInt(`0x${Buffer.from(serial, 'base64url').toString('hex') || '0'}`) === BigInt(`0x${status.serial}`);
  } catch {
    return false;
  }
}

function warn(ctx: RenewalContext, domain: string, message: string, error: unknown): void {
  ctx.log('warn', message, { domain, step: 'clean up', ...(error ? { reason: describeError(error) } : {}) });
}
