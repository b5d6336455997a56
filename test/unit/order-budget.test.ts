import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitOrder, formatLedger, LETS_ENCRYPT_ORDER_BUDGET, parseLedger, type OrderLedger } from '../../functions/core/order-budget.js';

const HOUR = 3_600_000;
const now = new Date('2026-12-15T03:05:00Z');
const at = (msAgo: number) => new Date(now.getTime() - msAgo).toISOString();
const ledgerOf = (...agos: number[]): OrderLedger => ({ version: 1, orders: agos.map((ago, index) => ({ at: at(ago), domain: `d${index}.test` })) });
const budget = { limit: 3, windowMs: 3 * HOUR };

test("the default budget is Let's Encrypt's: 300 new orders per account per 3 hours", () => {
  assert.deepEqual(LETS_ENCRYPT_ORDER_BUDGET, { limit: 300, windowMs: 3 * HOUR });
});

test('admits and counts an order while the window holds fewer than the limit, dropping entries the window left', () => {
  const decision = admitOrder(ledgerOf(4 * HOUR, HOUR, 10_000), { domain: 'a.test', now, exempt: false, budget });
  assert.ok(decision.admitted && decision.counted);
  assert.deepEqual(decision.ledger.orders.map((entry) => entry.domain), ['d1.test', 'd2.test', 'a.test']);
});

test('refuses an order once the window holds the limit, naming when the oldest counted order leaves it', () => {
  const decision = admitOrder(ledgerOf(2 * HOUR, HOUR, 10_000), { domain: 'a.test', now, exempt: false, budget });
  assert.ok(!decision.admitted);
  assert.equal(decision.freeAt.toISOString(), new Date(now.getTime() + HOUR).toISOString());
  assert.match(decision.reason, /3 new orders in the last 3 h \(the limit is 3\); the next may be placed at 2026-12-15T04:05:00.000Z/);
});

test('an order that carries ARI "replaces" is admitted and not counted, even with the budget spent', () => {
  const decision = admitOrder(ledgerOf(2 * HOUR, HOUR, 10_000), { domain: 'a.test', now, exempt: true, budget });
  assert.ok(decision.admitted && !decision.counted);
  assert.equal(decision.ledger.orders.length, 3);
});

test('an absent or unreadable ledger is empty; entries without a date are dropped; a ledger reads back as written', () => {
  assert.deepEqual(parseLedger(null).orders, []);
  assert.deepEqual(parseLedger('{oops').orders, []);
  assert.deepEqual(parseLedger(JSON.stringify({ orders: [{ at: 'never', domain: 'x' }, { domain: 'y' }, { at: at(0), domain: 'z' }] })).orders, [{ at: at(0), domain: 'z' }]);
  const ledger = ledgerOf(HOUR, 0);
  assert.deepEqual(parseLedger(formatLedger(ledger)), ledger);
});
