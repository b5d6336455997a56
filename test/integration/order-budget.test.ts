/**
 * The order budget on the replica: every run of the account shares one ledger in the certificates
 * bucket (core/order-budget.ts, workflows/order-budget.ts), so runs together stay within it.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ORDER_LEDGER_KEY } from '../../functions/core/layout.js';
import { addDomainFolder, getText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness } from '../helpers/renew-harness.js';

const state = replicaState();
const s3 = s3Client(state);

test('with a budget of 2 orders per 3 hours, two runs over 3 due domains place 2 orders: the third domain is backlog, named, with when the budget frees', async () => {
  const budget = { ORDER_BUDGET_ORDERS: '2', ORDER_BUDGET_WINDOW_MINUTES: '180' };
  const first = await renewHarness(budget);
  const domains = [`${uniqueLabel('budget')}.test`, `${uniqueLabel('budget')}.test`];
  for (const domain of domains) await addDomainFolder(s3, first.bucket, domain);
  const firstReport = await first.run();
  assert.deepEqual(firstReport.outcomes.map((outcome) => outcome.outcome), ['renewed', 'renewed']);

  // A second run (another invocation, the same bucket and account) finds the budget spent.
  const second = await renewHarness({ ...budget, CERTIFICATES_BUCKET: first.bucket });
  const third = `${uniqueLabel('budget')}.test`;
  await addDomainFolder(s3, first.bucket, third);
  const report = await second.run();

  const outcome = report.outcomes.find((item) => item.domain === third);
  assert.equal(outcome?.outcome, 'skipped', JSON.stringify(outcome));
  assert.match(outcome.reason, /the order budget is spent: 2 new orders in the last 3 h \(the limit is 2\); the next may be placed at \d{4}-/);
  assert.equal(report.counts.skipped, 1, 'the domain counts as backlog');
  assert.ok(!second.logs.some((line) => line.includes('"placing order"') && line.includes(third)), 'no order was placed for it');
  const ledger = JSON.parse((await getText(s3, first.bucket, ORDER_LEDGER_KEY)) ?? 'null') as { orders: { domain: string }[] };
  assert.deepEqual(ledger.orders.map((entry) => entry.domain).sort(), [...domains].sort());
});
