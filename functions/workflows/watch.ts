/**
 * Watching what the web hosts serve, top to bottom: list the domain folders → for each, read
 * status.json and ask every name over TLS what it serves (core/served.ts judges it; status.json
 * records it when it changed, with If-Match so a renewal written meanwhile is never overwritten),
 * reading every host's report meanwhile → judge the reports (core/host-report.ts).
 *
 * Contract: never throws. What cannot be checked (a listing that fails, a domain left for lack of
 * time, a report that cannot be read) is reported as unchecked, which fails the run like a finding.
 */

import { describeError } from '../core/errors.js';
import { defaultDomainConfig } from '../core/domain-config.js';
import { domainNameProblem, printable } from '../core/domain-name.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { judgeHosts, type HostFinding } from '../core/host-report.js';
import { judgeServedDomain, summarizeServed, type ServedFinding, type ServedJudgement, type ServedSummary } from '../core/served.js';
import { formatStatus, parseStatus } from '../core/status.js';
import type { WatchContext } from './ports.js';

export interface WatchReport {
  served: ServedFinding[];
  summary: ServedSummary;
  hosts: HostFinding[];
  /** How many host reports were read. */
  hostReports: number;
  /** Domains whose last renewal attempt failed (status.json's lastAttempt): failing until one succeeds. */
  failed: { domain: string; step: string; reason: string }[];
  /** Folders that are not valid domain names. */
  invalidFolders: { folder: string; reason: string }[];
  /** What this watch could not check, and why (`what`: a domain, "domains" or "host reports"). */
  unchecked: { what: string; reason: string }[];
}

/** A domain is checked only with this much of the invocation left: the host reports and the message need the rest. */
export const WATCH_RESERVE_MS = 60_000;

type StoredSerials = Map<string, { serial: string | null; renewedAt: string | null }>;
type Judged = Pick<ServedJudgement, 'findings' | 'fractionsLeft' | 'daysLeft'>;

/** Checks what every domain's names serve and what every host reports. */
export async function watchAll(ctx: WatchContext): Promise<WatchReport> {
  ctx.log('info', 'watching what the hosts serve', { step: 'watch' });
  const unchecked: WatchReport['unchecked'] = [];
  const folders = await ctx.store.listFolders().catch((error: unknown) => {
    unchecked.push({ what: 'domains', reason: `the certificates bucket could not be listed: ${describeError(error)}` });
    return [] as string[];
  });
  const invalidFolders = folders.flatMap((folder) => {
    const problem = domainNameProblem(folder);
    return problem ? [{ folder: printable(folder), reason: problem }] : [];
  });
  const domains = folders.filter((folder) => domainNameProblem(folder) === null);
  // The hosts' reports are read while the domains are checked; they are judged against what the domains store.
  const reports = readHostReports(ctx, unchecked);
  reports.catch(() => undefined); // awaited below, after the domains
  const stored: StoredSerials = new Map();
  const failed: WatchReport['failed'] = [];
  const judgements = await mapWithConcurrency(domains, ctx.concurrency, async (domain): Promise<Judged> => {
    if (ctx.timeLeftMs && ctx.timeLeftMs() < WATCH_RESERVE_MS) {
      unchecked.push({ what: domain, reason: 'not checked: too little time was left in this invocation (the next hourly watch checks it)' });
      return { findings: [], fractionsLeft: [], daysLeft: [] };
    }
    try {
      return await watchDomain(domain, ctx, stored, failed);
    } catch (error) {
      unchecked.push({ what: domain, reason: `could not be checked: ${describeError(error)}` });
      return { findings: [], fractionsLeft: [], daysLeft: [] };
    }
  });
  const served = judgements.flatMap((judgement) => judgement.findings);
  const read = await reports;
  const hosts = { findings: judgeHosts(read, stored, ctx.now(), ctx.hostStaleMs, ctx.mismatchGraceMs), count: read.length };
  for (const finding of [...served, ...hosts.findings]) ctx.log('warn', finding.detail, { step: 'watch', ...('domain' in finding && finding.domain ? { domain: finding.domain } : {}) });
  for (const item of unchecked) ctx.log('error', item.reason, { step: 'watch', ...(item.what === 'domains' || item.what === 'host reports' ? {} : { domain: item.what }) });
  return {
    served,
    summary: summarizeServed(judgements),
    hosts: hosts.findings,
    hostReports: hosts.count,
    failed: failed.sort((a, b) => a.domain.localeCompare(b.domain)),
    invalidFolders,
    unchecked: unchecked.sort((a, b) => a.what.localeCompare(b.what)),
  };
}

async function watchDomain(domain: string, ctx: WatchContext, stored: StoredSerials, failed: WatchReport['failed']): Promise<Judged> {
  const current = await ctx.store.readStatus(domain);
  const status = current ? parseStatus(current.text) : null;
  stored.set(domain, { serial: status?.serial ?? null, renewedAt: status?.renewedAt ?? null });
  const attempt = status?.lastAttempt;
  if (attempt?.outcome === 'failed') failed.push({ domain, step: attempt.step ?? 'unknown', reason: `${attempt.reason ?? 'no reason recorded'} (run ${attempt.runId}, ${attempt.at})` });
  // A status.json written by hand or by an older version may lack names: the configured defaults then.
  const names = Array.isArray(status?.names) && status.names.length > 0 ? status.names : defaultDomainConfig(domain).names;
  const answers = (await Promise.all(names.map((name) => ctx.served.probe(name)))).flat();
  const now = ctx.now();
  const judgement = judgeServedDomain({
    domain,
    answers,
    stored: status?.serial ? { serial: status.serial, renewedAt: status.renewedAt } : null,
    previous: status?.served,
    now,
    mismatchGraceMs: ctx.mismatchGraceMs,
    lapseFraction: ctx.lapseFraction,
  });
  if (current && status && judgement.changed) {
    const written = await ctx.store.writeStatusIfMatch(domain, formatStatus({ ...status, served: judgement.records }), current.etag);
    if (!written) ctx.log('info', 'status.json changed while checking what is served; the next run records it', { domain, step: 'watch' });
  }
  return judgement;
}

/** Returns every host's report (text null: unreadable, judged so); none when they cannot be listed, which is unchecked. */
async function readHostReports(ctx: WatchContext, unchecked: WatchReport['unchecked']): Promise<{ key: string; storedAt: Date; text: string | null }[]> {
  let listed: { key: string; storedAt: Date }[];
  try {
    listed = await ctx.store.listHostReports();
  } catch (error) {
    unchecked.push({ what: 'host reports', reason: `the hosts' reports could not be listed: ${describeError(error)}` });
    return [];
  }
  return mapWithConcurrency(listed, ctx.concurrency, async ({ key, storedAt }) => ({ key, storedAt, text: await ctx.store.readHostReport(key).catch(() => null) }));
}
