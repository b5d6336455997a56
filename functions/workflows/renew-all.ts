/**
 * One run of the renew function: find the domain folders, renew each one that is due with a
 * bounded concurrency, bring the bucket manifest up to date (publish-manifest.ts), and report
 * every outcome. One domain's failure never stops the others.
 */

import { domainNameProblem, printable } from '../core/domain-name.js';
import type { RenewRequest } from '../core/request.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { publishManifest } from './publish-manifest.js';
import { renewDomain, type DomainOutcome, type RenewOptions } from './renew-domain.js';
import { fanOutDecision, formatRenewMessage } from '../core/fan-out.js';
import { DomainFile, parseObjectKey } from '../core/layout.js';
import type { ListedFolder } from '../core/shortcut.js';
import type { ListedObject, RenewalContext } from './ports.js';


export interface InvalidFolder {
  folder: string;
  reason: string;
}

export interface RunReport {
  runId: string;
  startedAt: string;
  finishedAt: string;
  outcomes: DomainOutcome[];
  invalidFolders: InvalidFolder[];
  /**
   * Why the run could not renew at all, once (the ACME account could not be loaded: the CA or SSM
   * failing); the due domains it could not renew are then backlog. Null when it could.
   */
  stopped: string | null;
  /** Failures of the run that are no domain's (the bucket manifest could not be written); renewals never depend on them. */
  problems: string[];
  /** `skipped` is the backlog: due, and not renewed in this run. */
  /** `queued`: due, and handed to the workers (core/fan-out.ts). */
  counts: { renewed: number; repaired: number; notDue: number; skipped: number; failed: number; invalidFolders: number; queued: number };
}

/** Returns each top-level folder of the listing with its files' ETags and whether a renewal lock stands. */
function listedFolders(objects: readonly ListedObject[]): Map<string, ListedFolder> {
  const folders = new Map<string, ListedFolder>();
  for (const { key, etag } of objects) {
    const parsed = parseObjectKey(key);
    if (!parsed) continue;
    const folder = folders.get(parsed.folder) ?? { etags: {}, locked: false };
    if (parsed.file === DomainFile.lock) folder.locked = true;
    else if (parsed.file) folder.etags[parsed.file] = etag;
    folders.set(parsed.folder, folder);
  }
  return folders;
}

/** A request naming domains the bucket does not hold: nothing is done. */
export class UnknownDomainsError extends Error {
  override readonly name = 'UnknownDomainsError';
}

/** Runs the renewal of every requested (or every) domain folder and returns the report; throws only when the bucket cannot be listed or the request names unknown domains. */
export async function renewAll(request: RenewRequest, ctx: RenewalContext, concurrency: number): Promise<RunReport> {
  const renewal = await renewDomains(request, ctx, concurrency);
  return withManifest(renewal, await publishRunManifest(renewal, ctx));
}

/** A run whose domains are done and whose manifest is yet to be written. */
export interface RenewedDomains {
  report: RunReport;
  /** The run's listing, when the run wrote nothing (the manifest is then made from it). */
  unchangedListing: readonly ListedObject[] | null;
}

/** Brings the bucket manifest up to date after the run's renewals; returns its problem, or null. Never throws. */
export function publishRunManifest(renewal: RenewedDomains, ctx: RenewalContext): Promise<string | null> {
  return ctx.manifest ? publishManifest({ store: ctx.store, manifest: ctx.manifest, log: ctx.log, now: ctx.now }, renewal.unchangedListing) : Promise.resolve(null);
}

/** The run's report with the manifest's problem, if any, among its problems. */
export function withManifest(renewal: RenewedDomains, manifestProblem: string | null): RunReport {
  return manifestProblem ? { ...renewal.report, problems: [...renewal.report.problems, manifestProblem] } : renewal.report;
}

/** The renewals of a run, up to (not including) the manifest: renewAll without its last step. */
export async function renewDomains(request: RenewRequest, ctx: RenewalContext, concurrency: number): Promise<RenewedDomains> {
  const startedAt = ctx.now().toISOString();
  ctx.log('info', 'listing domain folders', { step: 'list' });
  // The run's clock against the CA's (one GET of the directory), measured while the bucket is listed.
  const measuring = ctx.caClock.measure();
  // One listing of every object: the folders, and what each holds (its ETags: the one-GET path).
  const objects = await ctx.store.listObjects();
  const listing = listedFolders(objects);
  const folders = [...listing.keys()].sort();

  const invalidFolders: InvalidFolder[] = [];
  const domains: string[] = [];
  for (const folder of folders) {
    const problem = domainNameProblem(folder);
    if (problem) {
      invalidFolders.push({ folder: printable(folder), reason: problem });
      ctx.log('error', 'skipping folder that is not a valid domain name', { step: 'list', folder: printable(folder), reason: problem });
    } else {
      domains.push(folder);
    }
  }

  const selected = request.domains ? selectRequested(request.domains, domains) : domains;
  const skew = await measuring;
  if (skew === null) ctx.log('warn', 'could not measure this run\'s clock against the CA\'s (no answer with a Date header); the account step measures again', { step: 'clock' });
  else if (skew.problem) ctx.log('error', skew.problem, { step: 'clock', skewSeconds: skew.skewMs / 1000 });
  else if (skew.warning) ctx.log('warn', skew.warning, { step: 'clock', skewSeconds: skew.skewMs / 1000 });
  ctx.log('info', 'renewing domains', { step: 'list', count: selected.length, force: request.force === true });
  const options = { force: request.force === true, breakLocks: request.breakLocks === true, ordersBlocked: skew?.problem ?? null, clockConfirmed: skew !== null && skew.problem === null, listing };
  const renewHere = (domains: readonly string[]) => mapWithConcurrency([...domains], concurrency, (domain) => {
    if (ctx.timeLeftMs && ctx.timeLeftMs() < MIN_TIME_FOR_A_DOMAIN_MS) return Promise.resolve(outOfTime(domain, ctx));
    return renewDomain(domain, options, ctx);
  });
  // A run over the whole bucket may hand its due domains to the workers; one asked for named domains
  // renews them here, and so does an `auto` run whose folders would all fit even if all were due
  // (the deciding pass would only read every due folder twice).
  const mayFanOut = ctx.fanOut !== null && !request.domains && fanOutDecision({ mode: ctx.fanOut.mode, due: selected.length, concurrency, perDomainMs: ctx.fanOut.perDomainMs, timeLeftMs: ctx.timeLeftMs ? ctx.timeLeftMs() : null, reserveMs: MIN_TIME_FOR_A_DOMAIN_MS }).fanOut;
  const attempted = mayFanOut && ctx.fanOut ? await fannedOut(selected, options, ctx, ctx.fanOut, concurrency, renewHere) : await renewHere(selected);
  const accountFailure = accountFailureOnce(attempted);
  const { outcomes } = accountFailure;
  // A clock too far off the CA's fails the run even when nothing was due: the next due domain would meet it.
  const stopped = skew?.problem ? `clock: ${skew.problem}` : accountFailure.stopped;
  if (stopped) ctx.log('error', 'no domain could be renewed: the run could not load its ACME account', { step: 'account', reason: stopped });

  // A run in which every domain was found not due wrote nothing: its own listing still shows the
  // bucket. Any other outcome may have written (a renewal, a repair, a failure's restored pair).
  const wroteNothing = outcomes.every((outcome) => outcome.outcome === 'not due' || outcome.outcome === 'queued');

  const count = (outcome: DomainOutcome['outcome']) => outcomes.filter((item) => item.outcome === outcome).length;
  const report: RunReport = {
    runId: ctx.runId,
    startedAt,
    finishedAt: ctx.now().toISOString(),
    outcomes,
    invalidFolders: request.domains ? [] : invalidFolders,
    stopped,
    problems: [],
    counts: { renewed: count('renewed'), repaired: count('repaired'), notDue: count('not due'), skipped: count('skipped'), failed: count('failed'), invalidFolders: request.domains ? 0 : invalidFolders.length, queued: count('queued') },
  };
  return { report, unchangedListing: wroteNothing ? objects : null };
}

/**
 * The scheduled run with fan-out (core/fan-out.ts): a first pass decides every domain (the one-GET
 * path for most) and renews none; the due ones are then renewed here when they fit in the time
 * left (`auto`), or handed to the workers' queue, one message each. A domain the queue did not take
 * is backlog, named.
 */
async function fannedOut(domains: string[], options: RenewOptions, ctx: RenewalContext, fanOut: NonNullable<RenewalContext['fanOut']>, concurrency: number, renewHere: (domains: readonly string[]) => Promise<DomainOutcome[]>): Promise<DomainOutcome[]> {
  const handOff = (domain: string, reason: string): DomainOutcome => ({ domain, outcome: 'queued', reason });
  const decided = await mapWithConcurrency(domains, concurrency, (domain) => renewDomain(domain, { ...options, handOff }, ctx));
  const due = decided.filter((outcome) => outcome.outcome === 'queued');
  const decision = fanOutDecision({ mode: fanOut.mode, due: due.length, concurrency, perDomainMs: fanOut.perDomainMs, timeLeftMs: ctx.timeLeftMs ? ctx.timeLeftMs() : null, reserveMs: MIN_TIME_FOR_A_DOMAIN_MS });
  if (due.length > 0) ctx.log('info', decision.fanOut ? 'handing the due domains to the workers' : 'renewing the due domains in this run', { step: 'queue', due: due.length, why: decision.why });
  if (!decision.fanOut) {
    const renewed = new Map((await renewHere(due.map((outcome) => outcome.domain))).map((outcome) => [outcome.domain, outcome]));
    return decided.map((outcome) => renewed.get(outcome.domain) ?? outcome);
  }
  const failures = await fanOut.queue.send(due.map((outcome) => formatRenewMessage({ domain: outcome.domain, runId: ctx.runId, reason: outcome.reason, force: options.force, deferrals: 0 })));
  const refused = new Map(due.flatMap((outcome, index) => (failures[index] ? [[outcome.domain, failures[index] as string]] : [])));
  for (const [domain, reason] of refused) ctx.log('error', 'due, and the workers\' queue did not take it', { domain, step: 'queue', reason });
  return decided.map((outcome) => (refused.has(outcome.domain) ? { domain: outcome.domain, outcome: 'skipped', reason: `not renewed: the workers' queue did not take it (${refused.get(outcome.domain)})` } : outcome));
}

/**
 * The account is the run's, loaded once for every domain: when it fails, every due domain fails
 * at `account` with the same reason. That is one failure of the run, said once; the domains are
 * backlog (due, not renewed), each named.
 */
function accountFailureOnce(outcomes: DomainOutcome[]): { outcomes: DomainOutcome[]; stopped: string | null } {
  const failure = outcomes.find((outcome) => outcome.outcome === 'failed' && outcome.step === 'account');
  if (!failure || failure.outcome !== 'failed') return { outcomes, stopped: null };
  return {
    stopped: `account: ${failure.reason}`,
    outcomes: outcomes.map((outcome) => (outcome.outcome === 'failed' && outcome.step === 'account' ? { domain: outcome.domain, outcome: 'skipped', reason: 'not renewed: the run could not load its ACME account (the run\'s failure says why)', ...(outcome.events ? { events: outcome.events } : {}) } : outcome)),
  };
}

/**
 * A domain is started only with this much of the invocation left (ACME polling, preflight and the
 * store stay well within it), so no domain is cut off by the Lambda timeout holding its lock.
 */
const MIN_TIME_FOR_A_DOMAIN_MS = 180_000;

function outOfTime(domain: string, ctx: RenewalContext): DomainOutcome {
  ctx.log('warn', 'not started: too little time left in this invocation; the next run takes it up', { domain, step: 'decide' });
  return { domain, outcome: 'skipped', reason: 'not started: too little time was left in this invocation (the next run takes it up)' };
}

function selectRequested(requested: string[], domains: string[]): string[] {
  const unknown = requested.filter((name) => !domains.includes(name));
  if (unknown.length > 0) {
    throw new UnknownDomainsError(`unknown domain(s): ${unknown.map((name) => printable(name)).join(', ')} (no such folder in the certificates bucket)`);
  }
  return [...new Set(requested)];
}

/**
 * Returns true when the run must be reported as failed (so the function's error alarm fires): a
 * domain failed, a folder is invalid, a domain that was due was not renewed (the backlog), or the
 * bucket manifest could not be written.
 */
export function runFailed(report: RunReport): boolean {
  return report.stopped !== null || report.problems.length > 0 || report.counts.failed > 0 || report.counts.invalidFolders > 0 || report.counts.skipped > 0;
}
