/**
 * Host heartbeats: after every run the sync agent writes a small report for its host (who, when,
 * which serial it confirmed served per domain, what failed), and the renew function judges them:
 * a host that stopped reporting, one that still serves a certificate the bucket replaced long ago,
 * one whose runs fail. Pure: reading and writing the reports are adapters.
 */

import { isReportKeyOf } from './layout.js';
import type { DomainRecord } from './sync-plan.js';

export interface HostReport {
  version: 1;
  /** `id` is the identity the host writes with (its key is built from it); `name` its hostname. */
  host: { id: string; name: string };
  at: string;
  agentVersion: string;
  /** Per synced domain, what nginx was last confirmed serving. */
  domains: Record<string, { serial: string; placeholder: boolean; notAfter: string; served: DomainRecord['served']; installedAt: string }>;
  /** This run's failures, one line each ("example.com: reason", or a failure of the run as a whole). */
  failures: string[];
}

/** Returns the report of a run: the records the agent holds after it, and its failures. */
export function buildHostReport(args: { id: string; name: string; at: Date; agentVersion: string; records: Readonly<Record<string, DomainRecord>>; failures: readonly string[] }): HostReport {
  const domains: HostReport['domains'] = {};
  // By code unit: a locale's collation costs a host with 1000 domains more than the rest of its report.
  for (const [domain, record] of Object.entries(args.records).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    domains[domain] = { serial: record.serial, placeholder: record.placeholder, notAfter: record.notAfter, served: record.served, installedAt: record.installedAt };
  }
  return { version: 1, host: { id: args.id, name: args.name }, at: args.at.toISOString(), agentVersion: args.agentVersion, domains, failures: [...args.failures] };
}

/** Returns the report in `text`, or null when it is not one. */
export function parseHostReport(text: string | null): HostReport | null {
  try {
    const value = JSON.parse(text ?? '') as HostReport;
    if (value?.version !== 1 || typeof value.at !== 'string' || Number.isNaN(new Date(value.at).getTime())) return null;
    if (typeof value.host?.id !== 'string' || typeof value.host?.name !== 'string' || typeof value.domains !== 'object' || !Array.isArray(value.failures)) return null;
    return value;
  } catch {
    return null;
  }
}

export interface HostFinding {
  /** The host, as people know it: "web1 (AROA…:i-0abc)", or the report's key when unreadable. */
  host: string;
  kind: 'stale' | 'behind' | 'failing' | 'unreadable';
  domain?: string;
  detail: string;
}

/**
 * Judges every host's latest report: stale when S3 stored it more than `staleMs` ago (the agent
 * stopped, or cannot write; S3's clock, not the host's); behind when it confirmed a serial for a
 * domain other than the stored one, although the stored one was stored more than `graceMs` ago;
 * failing when its last run failed; unreadable when the report cannot be parsed, or names another
 * identity than the one its key belongs to.
 */
export function judgeHosts(reports: readonly { key: string; storedAt: Date; text: string | null }[], stored: ReadonlyMap<string, { serial: string | null; renewedAt: string | null }>, now: Date, staleMs: number, graceMs: number): HostFinding[] {
  const findings: HostFinding[] = [];
  for (const { key, storedAt, text } of reports) {
    const report = parseHostReport(text);
    if (!report || !isReportKeyOf(key, report.host.id)) {
      findings.push({ host: key, kind: 'unreadable', detail: `host report ${key} ${report ? `names identity ${report.host.id}, not the one its key belongs to` : 'cannot be read'} (a retired host's report can be deleted)` });
      continue;
    }
    const host = `${report.host.name} (${report.host.id})`;
    const age = now.getTime() - storedAt.getTime();
    if (age > staleMs) findings.push({ host, kind: 'stale', detail: `host ${host} has not reported since ${storedAt.toISOString()} (${hours(age)} ago): is its agent running? (If the host is retired, delete its report ${key}.)` });
    for (const failure of report.failures) findings.push({ host, kind: 'failing', detail: `host ${host}, run of ${report.at}: ${failure}` });
    for (const [domain, confirmed] of Object.entries(report.domains)) {
      const current = stored.get(domain);
      if (!current?.serial || !current.renewedAt || confirmed.serial === current.serial) continue;
      if (now.getTime() - new Date(current.renewedAt).getTime() <= graceMs) continue;
      findings.push({ host, kind: 'behind', domain, detail: `host ${host} serves ${domain} serial ${confirmed.serial}${confirmed.placeholder ? ' (a placeholder)' : ''}, not serial ${current.serial} stored ${current.renewedAt}` });
    }
  }
  return findings;
}

function hours(ms: number): string {
  return ms >= 2 * 3_600_000 ? `${Math.round(ms / 3_600_000)} hours` : `${Math.round(ms / 60_000)} minutes`;
}
