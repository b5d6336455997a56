/**
 * The per-domain renewal lock (`<domain>/renew.lock`): what it says, how long it lasts, and whether
 * a run may take it. Pure: the S3 store only creates, reads and replaces the object.
 */

/** Who holds a lock: the run, since when, and until when the lock stands. */
export interface LockHolder {
  runId: string;
  acquiredAt: string;
  expiresAt: string;
}

export type LockJudgement =
  /** A live lock: another run is renewing the domain; leave it. */
  | { take: false; holder: LockHolder }
  /** A lock to take over, and why: expired, broken (unreadable, or an expiry no run would set), or broken by request. */
  | { take: true; why: 'expired' | 'broken' | 'asked'; detail: string; holder: LockHolder | null };

/** Slack for clocks that differ between runs: an expiry this far past the longest TTL is still plausible. */
const CLOCK_SLACK_MS = 5 * 60_000;
/** A lock outlives the invocation that took it by at most this much: cleanup after the last step. */
export const LOCK_MARGIN_MS = 60_000;
/** The longest a Lambda invocation runs (15 minutes), plus the margin: the longest lock a Lambda run sets. */
export const LAMBDA_LOCK_MAX_MS = 15 * 60_000 + LOCK_MARGIN_MS;

/** Returns the lock object's text for `runId`, taken at `now` for `ttlMs`. */
export function lockBody(runId: string, now: Date, ttlMs: number): string {
  const holder: LockHolder = { runId, acquiredAt: now.toISOString(), expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
  return JSON.stringify(holder);
}

/**
 * Returns how long a lock taken now stands. In Lambda (`timeLeftMs` known): the invocation's time
 * left plus a margin, whatever is configured, since the run cannot outlive its invocation and
 * must not lose its lock while it lives; a run killed at its timeout frees the domain a minute
 * later. Elsewhere (a run from the CLI): the configured TTL.
 */
export function lockTtlMs(configuredMs: number, timeLeftMs: number | undefined): number {
  if (timeLeftMs === undefined) return configuredMs;
  return Math.max(LOCK_MARGIN_MS, timeLeftMs + LOCK_MARGIN_MS);
}

/** Returns the holder a lock object names, or null when it names none readably. */
export function parseLockHolder(text: string | null | undefined): LockHolder | null {
  try {
    const value = JSON.parse(text ?? '') as Partial<LockHolder> & { owner?: string };
    const runId = typeof value.runId === 'string' ? value.runId : value.owner;
    if (typeof runId !== 'string' || typeof value.expiresAt !== 'string') return null;
    const expires = new Date(value.expiresAt);
    if (Number.isNaN(expires.getTime())) return null;
    return { runId, acquiredAt: typeof value.acquiredAt === 'string' ? value.acquiredAt : 'unknown', expiresAt: expires.toISOString() };
  } catch {
    return null;
  }
}

/**
 * Returns whether a run may take the existing lock whose object holds `text`. A lock is taken
 * over when it has expired, when it cannot be read, when its expiry lies beyond anything a run
 * sets (now + the longer of the configured TTL and a Lambda run's longest lock, with slack for
 * clocks), or when the run was asked to break locks.
 */
export function judgeLock(text: string | null | undefined, now: Date, configuredTtlMs: number, breakLocks: boolean): LockJudgement {
  const maxTtlMs = Math.max(configuredTtlMs, LAMBDA_LOCK_MAX_MS);
  const holder = parseLockHolder(text);
  const named = holder ? `held by run ${holder.runId} since ${holder.acquiredAt}, until ${holder.expiresAt}` : 'naming no holder';
  if (breakLocks) return { take: true, why: 'asked', detail: `broke the lock as asked (${named})`, holder };
  if (!holder) return { take: true, why: 'broken', detail: `took over a lock that cannot be read (${JSON.stringify((text ?? '').slice(0, 80))})`, holder: null };
  const expires = new Date(holder.expiresAt).getTime();
  if (expires > now.getTime() + maxTtlMs + CLOCK_SLACK_MS) return { take: true, why: 'broken', detail: `took over a lock whose expiry no run would set (${named})`, holder };
  if (expires <= now.getTime()) return { take: true, why: 'expired', detail: `took over an expired lock (${named}): that run ended without releasing it`, holder };
  return { take: false, holder };
}

/** The reason given for a domain skipped behind a live lock: who holds it, and until when. */
export function heldReason(holder: LockHolder): string {
  return `another run holds the renewal lock: run ${holder.runId}, since ${holder.acquiredAt}, until ${holder.expiresAt} (a manual run with "breakLocks": true takes it)`;
}
