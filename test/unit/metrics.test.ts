import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METRICS_NAMESPACE, runMetrics } from '../../functions/core/metrics.js';

const at = new Date('2026-01-15T03:06:00Z');
const quiet = { renewed: 0, notDue: 0, skipped: 0, failed: 0, invalidFolders: 0 };

const runs: { name: string; counts: typeof quiet; succeeded: 0 | 1 }[] = [
  { name: 'counts a run with nothing to do as succeeded', counts: quiet, succeeded: 1 },
  { name: 'counts a run that renewed and skipped as succeeded', counts: { ...quiet, renewed: 2, notDue: 5, skipped: 1 }, succeeded: 1 },
  { name: 'counts a run with a failed domain as not succeeded', counts: { ...quiet, renewed: 3, failed: 1 }, succeeded: 0 },
  { name: 'counts a run with an invalid folder as not succeeded', counts: { ...quiet, notDue: 3, invalidFolders: 1 }, succeeded: 0 },
];

for (const { name, counts, succeeded } of runs) {
  test(name, () => {
    const record = runMetrics(counts, 'renew', at);

    assert.equal(record.RunSucceeded, succeeded);
    assert.deepEqual(
      [record.Renewed, record.NotDue, record.Skipped, record.Failed, record.InvalidFolders],
      [counts.renewed, counts.notDue, counts.skipped, counts.failed, counts.invalidFolders],
    );
  });
}

test('writes an Embedded Metric Format record with the function as dimension', () => {
  const record = runMetrics({ ...quiet, renewed: 1 }, 'acme-prod-renew', at);

  assert.deepEqual(record._aws, {
    Timestamp: at.getTime(),
    CloudWatchMetrics: [{
      Namespace: METRICS_NAMESPACE,
      Dimensions: [['Function']],
      Metrics: ['Renewed', 'NotDue', 'Skipped', 'Failed', 'InvalidFolders', 'RunSucceeded'].map((Name) => ({ Name, Unit: 'Count' })),
    }],
  });
  assert.equal(record.Function, 'acme-prod-renew');
});
