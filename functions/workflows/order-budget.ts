/**
 * Taking a slot of the order budget (core/order-budget.ts) before an order is placed: read the
 * ledger, admit the order, write the ledger back only if no other run or worker wrote it
 * meanwhile, and start again when one did. Every run and every worker of the account goes through
 * the same ledger, so together they stay within the budget.
 */

import { admitOrder, formatLedger, parseLedger, type OrderBudget } from '../core/order-budget.js';
import type { ConditionalObject } from './ports.js';

/** Why an order may not be placed now, and when it may. */
export class OrderBudgetSpentError extends Error {
  override readonly name = 'OrderBudgetSpentError';
  constructor(
    message: string,
    readonly freeAt: Date,
  ) {
    super(message);
  }
}

/** Writers that came first this many times in a row: something is wrong, and the order is not placed blind. */
const LEDGER_WRITE_TRIES = 20;

/**
 * Takes a slot for `domain`'s order (none is counted for an order that carries `replaces`);
 * throws OrderBudgetSpentError when the budget is spent, and the store's error when the ledger
 * cannot be read or written.
 */
export async function takeOrderSlot(ledger: ConditionalObject, args: { domain: string; exempt: boolean; budget: OrderBudget; now: () => Date }): Promise<{ counted: boolean }> {
  for (let attempt = 1; attempt <= LEDGER_WRITE_TRIES; attempt += 1) {
    const stored = await ledger.read();
    const decision = admitOrder(parseLedger(stored?.text ?? null), { domain: args.domain, now: args.now(), exempt: args.exempt, budget: args.budget });
    if (!decision.admitted) throw new OrderBudgetSpentError(decision.reason, decision.freeAt);
    if (!decision.counted) return { counted: false };
    if (await ledger.writeIfMatch(formatLedger(decision.ledger), stored?.etag ?? null)) return { counted: true };
    // Another run or worker wrote the ledger between the read and the write: read it again, after a short, random pause.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * attempt));
  }
  throw new Error(`the order ledger changed under every one of ${LEDGER_WRITE_TRIES} tries to write it; the order was not placed`);
}
