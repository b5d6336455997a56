import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METRICS_NAMESPACE, runMetrics, watchMetrics } from '../../functions/core/metrics.js';

const at = new Date('2026-01-15T03:06:00Z');
const quiet = { renewed: 0, repaired: 0, notDue: 0, skipped: 0, failed: 0, invalidFolders: 0 };

const runs: { name: string; counts: typeof quiet; succeeded: 0 | 1 }[] = [
  { name: 'counts a run with nothing to do as succeeded', counts: quiet, succeeded: 1 },
  { name: 'counts a run that renewed and repaired as succeeded', counts: { ...quiet, renewed: 2, repaired: 1, notDue: 5 }, succeeded: 1 },
  { name: 'counts a run that left a due domain unrenewed (the backlog) as not succeeded', counts: { ...quiet, renewed: 2, notDue: 5, skipped: 1 }, succeeded: 0 },
  { name: 'counts a run with a failed domain as not succeeded', counts: { ...quiet, renewed: 3, failed: 1 }, succeeded: 0 },
  { name: 'counts a run with an invalid folder as not succeeded', counts: { ...quiet, notDue: 3, invalidFolders: 1 }, succeeded: 0 },
];

for (const { name, counts, succeeded } of runs) {
  test(name, () => {
    const record = runMetrics(counts, 'renew', at);

    assert.equal(record.RunSucceeded, succeeded);
    assert.deepEqual(
      [record.Renewed, record.Repaired, record.NotDue, record.Skipped, record.Backlog, record.Failed, record.InvalidFolders],
      [counts.renewed, counts.repaired, counts.notDue, counts.skipped, counts.skipped, counts.failed, counts.invalidFolders],
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
      Metrics: ['Renewed', 'Queued', 'Repaired', 'NotDue', 'Skipped', 'Backlog', 'Failed', 'InvalidFolders', 'RunSucceeded'].map((Name) => ({ Name, Unit: 'Count' })),
    }],
  });
  assert.equal(record.Function, 'acme-prod-renew');
});

test('a watch record carries the least lifetime and days left, and the counts of names and hosts at fault', () => {
  const record = watchMetrics({ minFractionLeft: 0.2512345, minDaysLeft: 22.61234, mismatched: 1, unreachable: 2, lapsing: 1 }, { stale: 1, behind: 3, failing: 0 }, 'acme-prod-renew', at);

  assert.deepEqual(
    [record.ServedLifetimeLeft, record.ServedDaysLeft, record.ServedMismatch, record.ServedUnreachable, record.StaleHosts, record.HostsBehind, record.HostFailures],
    [0.2512, 22.61, 1, 2, 1, 3, 0],
  );
});

test('a watch that reached no name publishes no lifetime figures, so the lifetime alarm is not fed a false zero', () => {
  const record = watchMetrics({ minFractionLeft: null, minDaysLeft: null, mismatched: 0, unreachable: 0, lapsing: 0 }, { stale: 0, behind: 0, failing: 0 }, 'renew', at);

  assert.equal('ServedLifetimeLeft' in record, false);
  assert.equal('ServedDaysLeft' in record, false);
});
