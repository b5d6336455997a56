/**
 * One run of the host sync agent, top to bottom:
 * lock → see the bucket (sync-view.ts: the manifest, or a full listing) → sync each domain
 * (core/sync-plan.ts decides; sync-domain.ts carries it out) → test nginx's configuration (restore
 * everything on failure) → prune what nginx no longer uses (only when asked) → one reload when
 * nginx uses any changed pair → confirm over TLS that nginx serves each new serial → save the
 * records → release the lock.
 *
 * A domain's record is saved only once its pair is confirmed served (or known unused by nginx):
 * after a failed reload or served check, the next run finds the pair unconfirmed and reloads again.
 */

import { describeError, ConfigurationError } from '../core/errors.js';
import { domainNameProblem, printable } from '../core/domain-name.js';
import { buildHostReport } from '../core/host-report.js';
import { hostReportKey } from '../core/layout.js';
import type { BucketView, FolderView } from '../core/manifest.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { referencedDomains } from '../core/nginx-config.js';
import { planConfirmation, pruneProblem, type DomainChange, type DomainRecord, type References } from '../core/sync-plan.js';
import { syncDomain, type DomainResult } from './sync-domain.js';
import type { HostReporter, SyncContext, SyncState } from './sync-ports.js';
import { viewBucket } from './sync-view.js';

/** What one run did, per domain and as a whole. */
export interface SyncReport {
  /** False when another run held the lock and this one did nothing. */
  ran: boolean;
  results: DomainResult[];
  /** Domains removed from the host (`--prune`). */
  pruned: string[];
  downloads: number;
  reloaded: boolean;
  /** Failures of the run as a whole (nginx -t, the reload); a domain's own failure is in its result. */
  problems: string[];
  /** Things worth saying once that are not failures (a pair no server block uses, a name served by another block). */
  notices: string[];
}

/** Runs one sync; throws only when the bucket cannot be listed, the state cannot be saved, or `--domains` names a domain the bucket lacks. */
export async function syncHost(ctx: SyncContext): Promise<SyncReport> {
  const lock = await ctx.lock();
  if (!lock) return { ran: false, results: [], pruned: [], downloads: 0, reloaded: false, problems: [], notices: [] };
  try {
    return await syncLocked(ctx);
  } finally {
    await lock.release();
  }
}

async function syncLocked(ctx: SyncContext): Promise<SyncReport> {
  // Who this host reports as (an STS request) is asked now, so the answer is in by the report; a
  // failure is asked again, and reported, when the report is written.
  if (ctx.reporter && ctx.mode === 'reload') ctx.reporter.identity().catch(() => undefined);
  const state = await ctx.state.read();
  const seen = await viewBucket(ctx, state.bucket ?? null);
  const { domains, invalid } = groupByDomain(seen.view, ctx.domains);
  const results: DomainResult[] = [...invalid];
  results.push(...(await mapWithConcurrency([...domains.keys()], ctx.concurrency, (domain) => syncDomain(domain, domains.get(domain) as FolderView, state.domains[domain] ?? null, ctx))));
  const report: SyncReport = { ran: true, results, pruned: [], downloads: results.reduce((sum, result) => sum + result.downloads, 0), reloaded: false, problems: [], notices: seen.notice ? [seen.notice] : [] };
  // A view that sent a read to an object that is not there any more is out of date (a change made
  // outside the renew function, which the manifest does not show): the next run lists the bucket.
  if (seen.memory) state.bucket = results.some((result) => result.readFailed) ? { ...seen.memory, listAgain: true } : seen.memory;
  for (const result of results) if (result.done === 'recorded' && result.record) state.domains[result.domain] = result.record;

  const changes = results.flatMap((result) => (result.change ? [result.change] : []));
  const pruneCandidates = ctx.prune && ctx.mode === 'reload' ? await installedOutside(ctx, new Set(domains.keys())) : [];
  if (ctx.mode === 'install-only') {
    // nginx is not running yet: it loads these files when it starts; the next run confirms them.
    for (const change of changes) delete state.domains[change.domain];
  } else if (changes.length > 0 || pruneCandidates.length > 0) {
    await testReloadAndConfirm(ctx, state, report, changes, pruneCandidates, [...domains.keys()]);
  }
  await ctx.state.write(state);
  if (ctx.reporter && ctx.mode === 'reload') await writeHostReport(ctx, ctx.reporter, state, report);
  return report;
}

/**
 * Writes this host's report (core/host-report.ts): which serial nginx was last confirmed serving
 * per domain, and this run's failures. A report that cannot be written fails the run: the renew
 * function would take a silent host for a dead one, and say so, but the host should say why.
 */
async function writeHostReport(ctx: SyncContext, reporter: HostReporter, state: SyncState, report: SyncReport): Promise<void> {
  const failures = [...report.results.flatMap((result) => (result.failure ? [`${result.domain}: ${result.failure}`] : [])), ...report.problems];
  try {
    const body = buildHostReport({ id: await reporter.identity(), name: ctx.host.name, at: ctx.now(), agentVersion: ctx.host.agentVersion, records: state.domains, failures });
    await reporter.write(hostReportKey(body.host.id, ctx.host.name), `${JSON.stringify(body, null, 2)}\n`);
  } catch (error) {
    report.problems.push(`writing this host's report: ${describeError(error)} (does the host's identity have the stack's current host policy?)`);
  }
}

/** nginx -T (restoring everything on failure), prune, one reload, the served check, and the records. */
async function testReloadAndConfirm(ctx: SyncContext, state: SyncState, report: SyncReport, changes: DomainChange[], pruneCandidates: string[], listed: string[]): Promise<void> {
  const test = await ctx.nginx.testConfiguration();
  if (!test.ok) {
    await restore(report.results, ctx);
    report.problems.push(`nginx rejected the configuration, previous files restored, not reloaded: ${lastLines(test.output)}`);
    for (const change of changes) {
      delete state.domains[change.domain];
      fail(report, change.domain, 'not installed: nginx rejected the configuration with it (see below); the previous files are back');
    }
    return;
  }
  const references = await usedByNginx(ctx, test.certificatePaths, [...listed, ...pruneCandidates]);
  await prune(ctx, state, report, pruneCandidates, references);

  const plan = planConfirmation(changes, await withServedPairs(ctx, changes, references));
  if (plan.reload) {
    try {
      await ctx.nginx.reload();
      report.reloaded = true;
    } catch (error) {
      report.problems.push(`reload failed: ${describeError(error)}`);
      for (const change of changes.filter((item) => !plan.unreferenced.includes(item.domain))) fail(report, change.domain, 'installed, but not served yet: the reload failed (the next run reloads again)');
    }
  }
  const unserved = report.reloaded ? await confirmServed(ctx, report, plan.checks) : new Set<string>();
  for (const change of changes) {
    const unreferenced = plan.unreferenced.includes(change.domain);
    if (unreferenced) {
      report.notices.push(`${change.domain}: installed, but no server block in nginx's configuration uses ${ctx.files.certificatePath(change.domain)}, and nginx serves no certificate for ${change.domain}; nginx was not reloaded for it`);
    }
    if (unreferenced || (report.reloaded && !unserved.has(change.domain))) state.domains[change.domain] = record(change, unreferenced ? 'unreferenced' : 'confirmed');
    else delete state.domains[change.domain];
  }
  await cleanUpVersions(ctx, report);
}

/**
 * Returns which domains' pairs nginx's configuration uses, from the ssl_certificate paths of its
 * nginx -T dump, comparing paths as written and with symlinks resolved (a server block may reach
 * the pair through a link of its own). Unknown when the test printed no dump.
 */
async function usedByNginx(ctx: SyncContext, paths: string[] | null, domains: string[]): Promise<References> {
  if (!paths) return { kind: 'unknown' };
  const resolved = await Promise.all(paths.map((path) => ctx.files.realPath(path)));
  const ours = new Map(await Promise.all(domains.map(async (domain) => {
    const path = ctx.files.certificatePath(domain);
    return [domain, [path, await ctx.files.realPath(path)]] as const;
  })));
  return referencedDomains([...paths, ...resolved], domains, (domain) => ours.get(domain) ?? []);
}

/**
 * The configuration is read as text, so a pair it reaches in a way the dump does not show would
 * look unused, and its renewal would never be reloaded. Before a changed pair is taken as unused,
 * nginx is asked over TLS for the domain's name: if it serves a certificate for that name, the
 * pair counts as used after all.
 */
async function withServedPairs(ctx: SyncContext, changes: DomainChange[], references: References): Promise<References> {
  if (references.kind !== 'some') return references;
  const unused = changes.filter((change) => !references.domains.has(change.domain)).map((change) => change.domain);
  const served = await mapWithConcurrency(unused, ctx.concurrency, async (domain) => ((await ctx.nginx.servedCertificate(domain))?.names.includes(domain) ? domain : null));
  return { kind: 'some', domains: new Set([...references.domains, ...served.filter((domain): domain is string => domain !== null)]) };
}

function record(change: DomainChange, served: DomainRecord['served']): DomainRecord {
  return { ...change.record, served };
}

/**
 * `s6-svc -h` succeeds even when nginx rejects the reload: ask nginx which certificate it serves,
 * for every name of each new certificate. The domain's own name decides: a pair nginx does not
 * serve for it stays unconfirmed (its domain fails; the next run reloads and checks again).
 * Another name served with another certificate (a server block of its own) is a notice, and does
 * not hold the pair back. Returns the domains not confirmed.
 */
async function confirmServed(ctx: SyncContext, report: SyncReport, checks: { domain: string; name: string; serial: string }[]): Promise<Set<string>> {
  const served = await ctx.nginx.confirmServed(checks, ctx.servedCheckTimeoutMs, ctx.concurrency);
  const unserved = new Set<string>();
  checks.forEach((check, index) => {
    const answer = served[index] ?? null;
    if (answer === check.serial) return;
    const problem = `nginx still serves ${answer ? `serial ${answer}` : 'no certificate'} for ${check.name} after the reload, not ${check.serial}`;
    if (check.name !== check.domain) {
      report.notices.push(`${check.domain}: ${problem} (does another server block answer for ${check.name}?)`);
      return;
    }
    unserved.add(check.domain);
    fail(report, check.domain, `${problem} (is its server block's ssl_certificate ${ctx.files.certificatePath(check.domain)}?)`);
  });
  return unserved;
}

/** Removes the pairs of domains that left the bucket, unless nginx's configuration still uses them. */
async function prune(ctx: SyncContext, state: SyncState, report: SyncReport, candidates: string[], references: References): Promise<void> {
  for (const domain of candidates) {
    const problem = pruneProblem(domain, references, ctx.files.certificatePath(domain));
    if (problem) {
      fail(report, domain, `not pruned: ${problem}`);
      continue;
    }
    try {
      // Unused by nginx: no reload is needed for it.
      await ctx.files.remove(domain);
      delete state.domains[domain];
      report.pruned.push(domain);
    } catch (error) {
      fail(report, domain, `pruning: ${describeError(error)}`);
    }
  }
}

/** Records a failure for `domain`: on its result when it has one (a domain counts once per run), else as a new result. */
function fail(report: SyncReport, domain: string, reason: string): void {
  const result = report.results.find((item) => item.domain === domain);
  if (!result) report.results.push({ domain, done: 'nothing', failure: reason, downloads: 0 });
  else if (result.failure) result.failure = `${result.failure}; ${reason}`;
  else result.failure = reason;
}

/** The domains installed on the host that this run does not sync (left the bucket, or not in `--domains`). */
async function installedOutside(ctx: SyncContext, synced: ReadonlySet<string>): Promise<string[]> {
  return (await ctx.files.installedDomains()).filter((domain) => !synced.has(domain) && domainNameProblem(domain) === null);
}

/** Puts back what this run replaced; each result becomes `restored`. A failure to restore is that domain's failure. */
async function restore(results: DomainResult[], ctx: SyncContext): Promise<void> {
  for (const result of results) {
    if (result.done !== 'installed' && result.done !== 'placeholder') continue;
    try {
      await ctx.files.restore(result.domain, result.previous ?? null);
      result.done = 'restored';
    } catch (error) {
      ctx.log('error', 'could not restore the previous files', { domain: result.domain, reason: describeError(error) });
      result.failure = `${result.failure ? `${result.failure}; ` : ''}could not restore the previous files: ${describeError(error)}`;
    }
  }
}

/** Removes the version directories a successful run replaced; a failure is reported, never thrown. */
async function cleanUpVersions(ctx: SyncContext, report: SyncReport): Promise<void> {
  for (const result of report.results) {
    if (result.done !== 'installed' && result.done !== 'placeholder') continue;
    try {
      await ctx.files.removeOldVersions(result.domain, result.previous ?? null);
    } catch (error) {
      ctx.log('error', 'removing old versions failed', { domain: result.domain, reason: describeError(error) });
      fail(report, result.domain, `removing old versions: ${describeError(error)}`);
    }
  }
}

/**
 * Groups the view of the bucket by domain folder. Folders that are not valid domain names, and
 * keys outside any folder that start with "/", are refused (each one a failed result). With
 * `wanted`, a wanted domain without any object is a configuration error.
 */
function groupByDomain(view: BucketView, wanted: readonly string[] | null): { domains: Map<string, FolderView>; invalid: DomainResult[] } {
  const domains = new Map<string, FolderView>();
  const refused = new Map<string, string>(view.strayKeys.map((key) => [key, 'object key starts with "/"']));
  for (const folder of view.folders) {
    const problem = domainNameProblem(folder.folder);
    if (problem) {
      refused.set(folder.folder, problem);
      continue;
    }
    if (wanted && !wanted.includes(folder.folder)) continue;
    domains.set(folder.folder, folder);
  }
  const missing = (wanted ?? []).filter((domain) => !domains.has(domain));
  if (missing.length > 0) throw new ConfigurationError(`--domains: ${missing.join(', ')}: no such folder in the certificates bucket (nothing was changed)`);
  const invalid: DomainResult[] = [...refused].map(([folder, reason]) => ({ domain: printable(folder), done: 'nothing', failure: `refused folder name: ${reason}`, downloads: 0 }));
  // In the view's order: sorted by name.
  return { domains, invalid };
}

function lastLines(text: string): string {
  return text.split('\n').filter(Boolean).slice(-3).join(' | ');
}
