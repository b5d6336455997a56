/**
 * Watching what the web hosts serve, top to bottom: list the domain folders → for each, read
 * status.json and ask every name over TLS what it serves (core/served.ts judges it; status.json
 * records it when it changed, with If-Match so a renewal written meanwhile is never overwritten)
 * → read every host's report (core/host-report.ts judges them).
 *
 * Contract: never throws for one domain or one host; what cannot be checked is a finding.
 */

import { describeError } from '../core/errors.js';
import { defaultDomainConfig } from '../core/domain-config.js';
import { domainNameProblem, printable } from '../core/domain-name.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { judgeHosts, type HostFinding } from '../core/host-report.js';
import { judgeServedDomain, summarizeServed, type ServedFinding, type ServedSummary } from '../core/served.js';
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
}

/** Checks what every domain's names serve and what every host reports. */
export async function watchAll(ctx: WatchContext): Promise<WatchReport> {
  ctx.log('info', 'watching what the hosts serve', { step: 'watch' });
  const folders = await ctx.store.listFolders();
  const invalidFolders = folders.flatMap((folder) => {
    const problem = domainNameProblem(folder);
    return problem ? [{ folder: printable(folder), reason: problem }] : [];
  });
  const domains = folders.filter((folder) => domainNameProblem(folder) === null);
  const stored = new Map<string, { serial: string | null; renewedAt: string | null }>();
  const failed: WatchReport['failed'] = [];
  const judgements = await mapWithConcurrency(domains, ctx.concurrency, async (domain) => {
    try {
      return await watchDomain(domain, ctx, stored, failed);
    } catch (error) {
      const finding: ServedFinding = { domain, name: domain, kind: 'unreachable', detail: `${domain}: could not be checked: ${describeError(error)}` };
      return { findings: [finding], fractionsLeft: [], daysLeft: [] };
    }
  });
  const served = judgements.flatMap((judgement) => judgement.findings);
  const hosts = await judgeHostReports(ctx, stored);
  for (const finding of [...served, ...hosts.findings]) ctx.log('warn', finding.detail, { step: 'watch', ...('domain' in finding && finding.domain ? { domain: finding.domain } : {}) });
  return { served, summary: summarizeServed(judgements), hosts: hosts.findings, hostReports: hosts.count, failed: failed.sort((a, b) => a.domain.localeCompare(b.domain)), invalidFolders };
}

async function watchDomain(domain: string, ctx: WatchContext, stored: Map<string, { serial: string | null; renewedAt: string | null }>, failed: WatchReport['failed']) {
  const current = await ctx.store.readStatus(domain);
  const status = current ? parseStatus(current.text) : null;
  stored.set(domain, { serial: status?.serial ?? null, renewedAt: status?.renewedAt ?? null });
  const attempt = status?.lastAttempt;
  if (attempt?.outcome === 'failed') failed.push({ domain, step: attempt.step ?? 'unknown', reason: `${attempt.reason ?? 'no reason recorded'} (run ${attempt.runId}, ${attempt.at})` });
  const names = status && status.names.length > 0 ? status.names : defaultDomainConfig(domain).names;
  const answers = await Promise.all(names.map((name) => ctx.served.probe(name)));
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

async function judgeHostReports(ctx: WatchContext, stored: ReadonlyMap<string, { serial: string | null; renewedAt: string | null }>): Promise<{ findings: HostFinding[]; count: number }> {
  const keys = await ctx.store.listHostReports();
  const reports = await mapWithConcurrency(keys, ctx.concurrency, async (key) => ({ key, text: await ctx.store.readHostReport(key).catch(() => null) }));
  return { findings: judgeHosts(reports, stored, ctx.now(), ctx.hostStaleMs, ctx.mismatchGraceMs), count: keys.length };
}
