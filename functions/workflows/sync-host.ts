/**
 * One run of the host sync agent, top to bottom:
 * lock → list the bucket once → sync each domain (download what changed, verify, install) →
 * prune (only when asked) → nginx -t (restore everything on failure) → reload → confirm nginx
 * serves each new serial over TLS → save state → release the lock.
 *
 * A domain's record is saved only once its pair is confirmed served: after a failed reload or
 * served check, the next run finds the pair installed without a record and reloads again.
 */

import { describeError } from '../core/errors.js';
import { domainNameProblem, printable } from '../core/domain-name.js';
import { parseObjectKey } from '../core/layout.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { syncDomain, type DomainChange } from './sync-domain.js';
import type { ListedObject, SyncContext, SyncState } from './sync-ports.js';

export type SyncResult =
  | DomainChange
  | { domain: string; change: 'pruned'; previous: string | null };

export interface SyncReport {
  /** False when another run held the lock and this one did nothing. */
  ran: boolean;
  results: SyncResult[];
  downloads: number;
  reloaded: boolean;
  /** Run-level failures (nginx -t, reload, a domain nginx does not serve after the reload). */
  problems: string[];
}

/** Runs one sync; throws only when the bucket cannot be listed or the state cannot be saved. */
export async function syncHost(ctx: SyncContext): Promise<SyncReport> {
  const lock = await ctx.lock();
  if (!lock) return { ran: false, results: [], downloads: 0, reloaded: false, problems: [] };
  try {
    return await syncLocked(ctx);
  } finally {
    await lock.release();
  }
}

async function syncLocked(ctx: SyncContext): Promise<SyncReport> {
  const state = await ctx.state.read();
  const { domains, invalid } = groupByDomain(await ctx.bucket.listObjects());
  const count = { downloads: 0 };

  const results: SyncResult[] = [...invalid];
  results.push(...(await mapWithConcurrency([...domains.keys()], ctx.concurrency, (domain) => syncDomain(domain, domains.get(domain) as Map<string, ListedObject>, state.domains[domain], ctx, count))));
  if (ctx.prune) results.push(...(await prune(ctx, new Set(domains.keys()))));

  const changed = results.filter(isChange);
  const problems: string[] = [];
  const notServed = new Set<string>();
  let reloaded = false;
  if (changed.length > 0) {
    const test = await ctx.nginx.testConfiguration();
    if (!test.ok) {
      await restore(changed, ctx);
      problems.push(`nginx rejected the configuration, previous files restored, not reloaded: ${lastLines(test.output)}`);
      return finish(ctx, state, results, count.downloads, false, problems, true);
    }
    try {
      await ctx.nginx.reload();
      reloaded = true;
    } catch (error) {
      problems.push(`reload failed: ${describeError(error)}`);
    }
    if (reloaded && ctx.servedCheckTimeoutMs > 0) {
      const { unserved, notices } = await confirmServed(changed, ctx);
      problems.push(...notices);
      for (const [domain, problem] of unserved) {
        problems.push(problem);
        notServed.add(domain);
      }
    }
  }
  return finish(ctx, state, results, count.downloads, reloaded, problems, false, (domain) => reloaded && !notServed.has(domain));
}

async function finish(
  ctx: SyncContext, state: SyncState, results: SyncResult[], downloads: number, reloaded: boolean, problems: string[], restored: boolean, confirmed: (domain: string) => boolean = () => false,
): Promise<SyncReport> {
  if (!restored) {
    for (const result of results) {
      const record = changedRecord(result);
      if (result.change === 'unchanged') {
        if (result.record) state.domains[result.domain] = result.record;
      } else if (record) {
        if (confirmed(result.domain)) state.domains[result.domain] = record;
        else delete state.domains[result.domain];
      } else if (result.change === 'pruned') {
        delete state.domains[result.domain];
        await cleanUp(ctx, problems, result.domain, 'removing the pruned files', () => ctx.files.remove(result.domain));
      }
      if (result.change === 'installed' || result.change === 'placeholder') {
        await cleanUp(ctx, problems, result.domain, 'removing old versions', () => ctx.files.removeOldVersions(result.domain, result.previous));
      }
    }
    await ctx.state.write(state);
  }
  return { ran: true, results, downloads, reloaded, problems };
}

/** Returns the record a change would save once confirmed served (null: the result installs nothing). */
function changedRecord(result: SyncResult) {
  if (result.change === 'installed' || result.change === 'placeholder' || result.change === 'adopted') return result.record;
  if (result.change === 'failed' && result.placeholder) return result.placeholder.record;
  return null;
}

/** Runs a cleanup step; a failure is logged and reported as a problem (the run exits non-zero), never thrown. */
async function cleanUp(ctx: SyncContext, problems: string[], domain: string, step: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    ctx.log('error', `${step} failed`, { domain, reason: describeError(error) });
    problems.push(`${domain}: ${step}: ${describeError(error)}`);
  }
}

function groupByDomain(objects: ListedObject[]): { domains: Map<string, Map<string, ListedObject>>; invalid: SyncResult[] } {
  const domains = new Map<string, Map<string, ListedObject>>();
  const refused = new Map<string, string>();
  for (const object of objects) {
    const parsed = parseObjectKey(object.key);
    if (!parsed) {
      if (object.key.startsWith('/')) refused.set(object.key, 'object key starts with "/"');
      continue;
    }
    const problem = domainNameProblem(parsed.folder);
    if (problem) {
      refused.set(parsed.folder, problem);
      continue;
    }
    if (!domains.has(parsed.folder)) domains.set(parsed.folder, new Map());
    if (parsed.file !== '') (domains.get(parsed.folder) as Map<string, ListedObject>).set(parsed.file, object);
  }
  const invalid: SyncResult[] = [...refused].map(([folder, reason]) => ({ domain: printable(folder), change: 'failed', reason: `refused folder name: ${reason}` }));
  return { domains: new Map([...domains].sort(([a], [b]) => a.localeCompare(b))), invalid };
}

async function prune(ctx: SyncContext, inBucket: Set<string>): Promise<SyncResult[]> {
  const results: SyncResult[] = [];
  for (const domain of await ctx.files.installedDomains()) {
    if (inBucket.has(domain) || domainNameProblem(domain)) continue;
    results.push({ domain, change: 'pruned', previous: await ctx.files.detach(domain) });
  }
  return results;
}

/** A result that needs nginx -t and a reload: something was installed or removed, or found installed but not confirmed served. */
type Change = Extract<SyncResult, { change: 'installed' | 'placeholder' | 'pruned' | 'adopted' }> | (Extract<SyncResult, { change: 'failed' }> & { placeholder: NonNullable<Extract<SyncResult, { change: 'failed' }>['placeholder']> });

function isChange(result: SyncResult): result is Change {
  return result.change === 'installed' || result.change === 'placeholder' || result.change === 'pruned' || result.change === 'adopted' || (result.change === 'failed' && result.placeholder !== undefined);
}

async function restore(changed: Change[], ctx: SyncContext): Promise<void> {
  for (const result of changed) {
    // Installed by an earlier run: nothing of this run's to undo.
    if (result.change === 'adopted' || (result.change === 'failed' && result.placeholder.adopted)) continue;
    const previous = result.change === 'failed' ? result.placeholder.previous : result.previous;
    await ctx.files.restore(result.domain, previous).catch((error: unknown) =>
      ctx.log('error', 'could not restore the previous files', { domain: result.domain, reason: describeError(error) }),
    );
  }
}

/**
 * `s6-svc -h` succeeds even when nginx rejects the reload: ask nginx which certificate it serves,
 * for every name of each new certificate. The domain's own name decides: a pair nginx does not
 * serve for it stays unconfirmed (the next run reloads and checks again). Another name served with
 * another certificate (a server block of its own, or another folder's certificate) is reported
 * once, and does not hold the pair back.
 */
async function confirmServed(changed: Change[], ctx: SyncContext): Promise<{ unserved: Map<string, string>; notices: string[] }> {
  const real = changed.filter((result): result is Extract<SyncResult, { change: 'installed' | 'adopted' }> => result.change === 'installed' || (result.change === 'adopted' && !result.record.placeholder));
  const checks = real.flatMap((result) => result.names.map((name) => ({ domain: result.domain, name, serial: result.serial })));
  const served = await ctx.nginx.confirmServed(checks, ctx.servedCheckTimeoutMs, ctx.concurrency);
  const unserved = new Map<string, string>();
  const notices: string[] = [];
  checks.forEach((check, index) => {
    const answer = served[index] ?? null;
    if (answer === check.serial) return;
    const problem = `${check.domain}: nginx still serves ${answer ? `serial ${answer}` : 'no certificate'} for ${check.name} after the reload, not ${check.serial}`;
    if (check.name === check.domain) unserved.set(check.domain, `${problem} (is a server block configured for it?)`);
    else notices.push(`${problem} (does another server block answer for ${check.name}?)`);
  });
  return { unserved, notices };
}

function lastLines(text: string): string {
  return text.split('\n').filter(Boolean).slice(-3).join(' | ');
}
