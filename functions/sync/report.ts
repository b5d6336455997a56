/**
 * What the agent prints: one line per domain changed or failed, and a summary; nothing at all when
 * nothing changed, so cron mail stays empty.
 */

import type { SyncReport } from '../workflows/sync-host.js';

/** Returns the lines to print for a run (empty when there is nothing to say). */
export function formatSyncReport(report: SyncReport): string[] {
  if (!report.ran) return ['acme-sync: another run holds the lock; nothing done'];
  const lines: string[] = [];
  for (const result of report.results) {
    if (result.change === 'installed') lines.push(`installed ${result.domain}: serial ${result.serial}, valid until ${result.notAfter}`);
    if (result.change === 'adopted') lines.push(`confirming ${result.domain}: ${result.record.placeholder ? 'placeholder ' : ''}serial ${result.serial} was installed but not yet confirmed served; reloading`);
    if (result.change === 'placeholder') lines.push(`placeholder ${result.domain}: self-signed until its certificate arrives`);
    if (result.change === 'pruned') lines.push(`pruned ${result.domain}: no longer in the bucket`);
    if (result.change === 'failed') lines.push(`FAILED ${result.domain}: ${result.reason}${result.placeholder ? (result.placeholder.adopted ? ' (its placeholder, never confirmed reloaded, reloaded)' : ' (placeholder installed)') : ''}`);
  }
  lines.push(...report.problems.map((problem) => `FAILED ${problem}`));
  if (lines.length === 0) return [];
  const count = (change: string) => report.results.filter((result) => result.change === change).length;
  const adopted = count('adopted') > 0 ? `, ${count('adopted')} confirming` : '';
  lines.push(`acme-sync: ${count('installed')} installed${adopted}, ${count('placeholder')} placeholder(s), ${count('pruned')} pruned, ${count('failed') + report.problems.length} failure(s); ${report.downloads} object(s) downloaded; nginx ${report.reloaded ? 'reloaded' : 'not reloaded'}`);
  return lines;
}

/** Returns true when the run must exit non-zero. */
export function syncFailed(report: SyncReport): boolean {
  return report.problems.length > 0 || report.results.some((result) => result.change === 'failed');
}
