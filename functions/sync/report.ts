/**
 * What the agent prints: one line per domain changed or failed, notices, and a summary; nothing at
 * all when nothing changed, so cron mail stays empty.
 */

import type { SyncReport } from '../workflows/sync-host.js';

/** Returns the lines to print for a run (empty when there is nothing to say). */
export function formatSyncReport(report: SyncReport): string[] {
  if (!report.ran) return ['acme-sync: another run holds the lock; nothing done'];
  const lines: string[] = [];
  for (const result of report.results) {
    const record = result.change?.record;
    if (result.done === 'installed' && record) lines.push(`installed ${result.domain}: serial ${record.serial}, valid until ${record.notAfter}`);
    if (result.done === 'placeholder') lines.push(`placeholder ${result.domain}: self-signed until its certificate arrives`);
    if (result.done === 'reconfirm' && record) lines.push(`confirming ${result.domain}: ${record.placeholder ? 'placeholder ' : ''}serial ${record.serial} was installed but not yet confirmed served; reloading`);
    if (result.failure) lines.push(`FAILED ${result.domain}: ${result.failure}`);
  }
  lines.push(...report.pruned.map((domain) => `pruned ${domain}: no longer synced to this host, and nginx no longer uses it`));
  lines.push(...report.notices.map((notice) => `NOTICE ${notice}`));
  lines.push(...report.problems.map((problem) => `FAILED ${problem}`));
  if (lines.length === 0) return [];
  const count = (done: string) => report.results.filter((result) => result.done === done).length;
  const confirming = count('reconfirm') > 0 ? `, ${count('reconfirm')} confirming` : '';
  lines.push(`acme-sync: ${count('installed')} installed${confirming}, ${count('placeholder')} placeholder(s), ${report.pruned.length} pruned, ${failureCount(report)} failure(s); ${report.downloads} object(s) downloaded; nginx ${report.reloaded ? 'reloaded' : 'not reloaded'}`);
  return lines;
}

/** Returns the number of failures: each failing domain once, plus each failure of the run as a whole. */
export function failureCount(report: SyncReport): number {
  return report.results.filter((result) => result.failure).length + report.problems.length;
}

/** Returns true when the run must exit non-zero. */
export function syncFailed(report: SyncReport): boolean {
  return failureCount(report) > 0;
}
