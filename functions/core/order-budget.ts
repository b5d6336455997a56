/**
 * The order budget: how many new orders the account may place in a sliding window, shared by every
 * run and every worker (the ledger is one object in the certificates bucket, written
 * conditionally by adapters/s3-order-ledger.ts). The default is Let's Encrypt's published limit of
 * 300 new orders per account per 3 hours; an order that carries ARI `replaces` (RFC 9773 §5) is a
 * renewal Let's Encrypt exempts from that limit, and is recorded without counting.
 *
 * Pure: the caller gives the clock, reads the ledger and writes it back.
 */

export interface OrderBudget {
  /** Orders that may be placed within any window. */
  limit: number;
  windowMs: number;
}

export const LETS_ENCRYPT_ORDER_BUDGET: OrderBudget = { limit: 300, windowMs: 3 * 3_600_000 };

/** One counted order: when, and for which domain (no secret, nothing else). */
export interface LedgerEntry {
  at: string;
  domain: string;
}

export interface OrderLedger {
  version: 1;
  orders: LedgerEntry[];
}

/** Reads a stored ledger; an absent or unreadable one is empty (the CA's own limit still holds, and says so). */
export function parseLedger(text: string | null): OrderLedger {
  if (text === null) return { version: 1, orders: [] };
  try {
    const parsed = JSON.parse(text) as { orders?: unknown };
    const orders = Array.isArray(parsed.orders) ? parsed.orders.filter((entry): entry is LedgerEntry => typeof entry?.at === 'string' && typeof entry?.domain === 'string' && !Number.isNaN(Date.parse(entry.at))) : [];
    return { version: 1, orders };
  } catch {
    return { version: 1, orders: [] };
  }
}

export function formatLedger(ledger: OrderLedger): string {
  return `${JSON.stringify(ledger)}\n`;
}

export type BudgetDecision =
  | { admitted: true; ledger: OrderLedger; counted: boolean }
  | { admitted: false; freeAt: Date; reason: string };

/**
 * Admits an order for `domain` at `now` when fewer than `limit` orders were counted in the window
 * before it (entries older than the window are dropped from the ledger returned), or says when the
 * oldest counted order leaves the window. An order that `exempt` (it carries `replaces`) is always
 * admitted and not counted.
 */
export function admitOrder(ledger: OrderLedger, args: { domain: string; now: Date; exempt: boolean; budget: OrderBudget }): BudgetDecision {
  const since = args.now.getTime() - args.budget.windowMs;
  const recent = ledger.orders.filter((entry) => Date.parse(entry.at) > since).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  if (args.exempt) return { admitted: true, ledger: { version: 1, orders: recent }, counted: false };
  if (recent.length >= args.budget.limit) {
    const oldest = recent[recent.length - args.budget.limit] as LedgerEntry;
    const freeAt = new Date(Date.parse(oldest.at) + args.budget.windowMs);
    return { admitted: false, freeAt, reason: `the order budget is spent: ${recent.length} new orders in the last ${describeWindow(args.budget.windowMs)} (the limit is ${args.budget.limit}); the next may be placed at ${freeAt.toISOString()}` };
  }
  return { admitted: true, ledger: { version: 1, orders: [...recent, { at: args.now.toISOString(), domain: args.domain }] }, counted: true };
}

function describeWindow(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`;
}
