/**
 * CloudWatch metrics as an Embedded Metric Format log line: no SDK call, no extra permission.
 */

export const METRICS_NAMESPACE = 'AcmeCertificates';

/** Returns the EMF record for a run's counts (RunSucceeded is 1 for a run with no failure; the alarms read it). */
export function runMetrics(counts: { renewed: number; notDue: number; skipped: number; failed: number; invalidFolders: number }, functionName: string, at: Date): Record<string, unknown> {
  const values = {
    Renewed: counts.renewed,
    NotDue: counts.notDue,
    Skipped: counts.skipped,
    Failed: counts.failed,
    InvalidFolders: counts.invalidFolders,
    RunSucceeded: counts.failed === 0 && counts.invalidFolders === 0 ? 1 : 0,
  };
  return {
    _aws: {
      Timestamp: at.getTime(),
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [['Function']], Metrics: Object.keys(values).map((Name) => ({ Name, Unit: 'Count' })) }],
    },
    Function: functionName,
    ...values,
  };
}
