/**
 * CloudWatch metrics as Embedded Metric Format log lines: no SDK call, no extra permission. The
 * alarms in infra/monitoring.yml read them.
 */

import type { ServedSummary } from './served.js';

export const METRICS_NAMESPACE = 'AcmeCertificates';

function emf(values: Record<string, number>, units: Record<string, string>, functionName: string, at: Date): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: at.getTime(),
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [['Function']], Metrics: Object.keys(values).map((Name) => ({ Name, Unit: units[Name] ?? 'Count' })) }],
    },
    Function: functionName,
    ...values,
  };
}

/**
 * Returns the EMF record of a renewal run's counts. RunSucceeded is 1 only for a run with no
 * failed domain, no invalid folder and no backlog (a due domain left unrenewed: `skipped`); the
 * "no successful run" alarm reads it, and Backlog has an alarm of its own.
 */
export function runMetrics(counts: { renewed: number; repaired: number; notDue: number; skipped: number; failed: number; invalidFolders: number; queued?: number }, functionName: string, at: Date): Record<string, unknown> {
  return emf({
    Renewed: counts.renewed,
    Queued: counts.queued ?? 0,
    Repaired: counts.repaired,
    NotDue: counts.notDue,
    Skipped: counts.skipped,
    Backlog: counts.skipped,
    Failed: counts.failed,
    InvalidFolders: counts.invalidFolders,
    RunSucceeded: counts.failed === 0 && counts.invalidFolders === 0 && counts.skipped === 0 ? 1 : 0,
  }, {}, functionName, at);
}

/**
 * Returns the EMF record of a watch: the least fraction of lifetime (and days) any served
 * certificate has left, the names served with another certificate than the stored one past the
 * grace, the names that cannot be reached, and the hosts that are stale, behind or failing.
 * With no name reached, the lifetime figures are left out (the alarm treats missing data as fine).
 */
export function watchMetrics(summary: ServedSummary, hosts: { stale: number; behind: number; failing: number }, functionName: string, at: Date): Record<string, unknown> {
  const values: Record<string, number> = {};
  if (summary.minFractionLeft !== null) values.ServedLifetimeLeft = Number(summary.minFractionLeft.toFixed(4));
  if (summary.minDaysLeft !== null) values.ServedDaysLeft = Number(summary.minDaysLeft.toFixed(2));
  Object.assign(values, { ServedMismatch: summary.mismatched, ServedUnreachable: summary.unreachable, StaleHosts: hosts.stale, HostsBehind: hosts.behind, HostFailures: hosts.failing });
  return emf(values, { ServedLifetimeLeft: 'None', ServedDaysLeft: 'None' }, functionName, at);
}
