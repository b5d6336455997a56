/**
 * When to try a request to the CA again, and how long to wait first. Pure: the adapter that
 * sends the requests (adapters/acme-retry.ts) measures the time left and draws the jitter.
 *
 * What is transient (RFC 8555 §6.7): a 5xx answer, a 429 (`rateLimited`), a `badNonce` the client's
 * own nonce retries did not get past, and a request that got no answer (a reset, a timeout, a
 * refused connection). Anything else is the CA's answer, and final.
 */

export interface RetryPolicy {
  /** Tries in all, the first one included. */
  attempts: number;
  /** The first backoff; each further one doubles, up to `maxBackoffMs`, with full jitter. */
  baseMs: number;
  maxBackoffMs: number;
  /** The longest a CA's `Retry-After` is honoured; a longer one ends the retries at once. */
  maxRetryAfterMs: number;
  /** Time kept back at the end of the invocation for what follows (storing, telling people). */
  reserveMs: number;
}

/** What one failed try looked like: the CA's answer (status, problem type), or no answer (a transport error code). */
export type FailedTry =
  | { answered: true; status: number; problemType: string | null; retryAfter: string | null }
  | { answered: false; code: string | null };

const PROBLEM = 'urn:ietf:params:acme:error:';

/** Transport error codes that say nothing about the request itself: the next try may well work. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'ETIMEOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET']);

/** Returns true when trying the same request again (signed anew, with a fresh nonce) may succeed. */
export function isTransient(failed: FailedTry): boolean {
  if (!failed.answered) return failed.code !== null && TRANSIENT_CODES.has(failed.code);
  if (failed.status >= 500 || failed.status === 429) return true;
  return failed.problemType === `${PROBLEM}badNonce` || failed.problemType === `${PROBLEM}rateLimited` || failed.problemType === `${PROBLEM}serverInternal`;
}

/**
 * Returns the wait a `Retry-After` header asks for (RFC 9110 §10.2.3: seconds, or an HTTP date
 * relative to `now`), or null when there is none or it cannot be read.
 */
export function retryAfterMs(header: string | null, now: Date): number | null {
  if (!header) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}

export type RetryDecision = { retry: true; waitMs: number } | { retry: false; why: string };

/**
 * Returns whether to try again after failed try number `attempt` (1 for the first), and the wait:
 * the CA's `Retry-After` when it gave one (up to the policy's cap), else an exponential backoff
 * with full jitter (`random` in [0, 1)). Never waits past the invocation's time left minus the
 * reserve (`timeLeftMs`, unbounded when null).
 */
export function nextRetry(args: { failed: FailedTry; attempt: number; policy: RetryPolicy; now: Date; timeLeftMs: number | null; random: number }): RetryDecision {
  const { failed, attempt, policy } = args;
  if (!isTransient(failed)) return { retry: false, why: 'not transient' };
  if (attempt >= policy.attempts) return { retry: false, why: `gave up after ${attempt} tries` };
  const asked = failed.answered ? retryAfterMs(failed.retryAfter, args.now) : null;
  if (asked !== null && asked > policy.maxRetryAfterMs) {
    return { retry: false, why: `the CA asks to wait ${Math.ceil(asked / 1000)} s (until ${new Date(args.now.getTime() + asked).toISOString()}), longer than a run waits (${Math.round(policy.maxRetryAfterMs / 1000)} s)` };
  }
  const backoff = Math.floor(args.random * Math.min(policy.maxBackoffMs, policy.baseMs * 2 ** (attempt - 1)));
  const waitMs = asked ?? backoff;
  if (args.timeLeftMs !== null && waitMs > args.timeLeftMs - policy.reserveMs) return { retry: false, why: `too little time is left in this invocation to wait ${Math.ceil(waitMs / 1000)} s` };
  return { retry: true, waitMs };
}

/** Returns a few words for a failed try, for the log line of a retry and the final error. */
export function describeTry(failed: FailedTry): string {
  if (!failed.answered) return failed.code ? `no answer (${failed.code})` : 'no answer';
  const type = failed.problemType?.startsWith(PROBLEM) ? failed.problemType.slice(PROBLEM.length) : failed.problemType;
  return `HTTP ${failed.status}${type ? ` ${type}` : ''}${failed.retryAfter ? `, Retry-After ${failed.retryAfter}` : ''}`;
}

/** How to poll an order the CA is working on (RFC 8555 §7.5.1, §7.4). */
export interface PollPolicy {
  /** The first wait for a validation when nothing was learned yet, the least a wait is, and where the backoff starts. */
  minMs: number;
  /**
   * The first wait for an issuance when nothing was learned yet, and the least a learned one is:
   * shorter, as a CA issues in moments once it has validated every name (validating means
   * reaching each of them over the network), and an order it answered as valid is not polled.
   */
  issuanceFirstMs: number;
  /** Each wait doubles up to this, unless the CA's `Retry-After` asks for more. */
  maxMs: number;
  /** Polls in all. */
  attempts: number;
}

/** A `Retry-After` longer than this is not waited out between two polls: the poll budget decides instead. */
const POLL_RETRY_AFTER_CAP_MS = 60_000;

/**
 * Returns how long to wait before poll number `poll` (1 for the first) of a `kind` of wait: the
 * CA's `Retry-After` when it sent one (at least `minMs`, at most a minute); else, before the first
 * poll, most of what the same kind of wait took the last times in this run (`learnedMs`: the CA
 * just asked to validate or to issue is still working, and an earlier poll would only find it so),
 * or the kind's first wait when nothing was learned yet (`minMs` for a validation,
 * `issuanceFirstMs` for an issuance), never less than that first wait; and after it, `minMs`
 * doubling up to `maxMs`. So a CA that takes 1.5 s to validate is polled about twice an order
 * once the run has learned its pace, and one that issues in 10 ms (Pebble) is polled once.
 */
export function pollWaitMs(poll: number, retryAfter: number | null, policy: PollPolicy, learnedMs: number | null = null, kind: 'validation' | 'issuance' = 'validation'): number {
  const max = Math.max(policy.maxMs, policy.minMs);
  const first = kind === 'issuance' ? Math.min(policy.issuanceFirstMs, policy.minMs) : policy.minMs;
  if (retryAfter !== null) return Math.min(Math.max(retryAfter, policy.minMs), POLL_RETRY_AFTER_CAP_MS);
  if (poll === 1) return learnedMs === null ? first : Math.min(Math.max(Math.round(learnedMs * LEARNED_SHARE), first), max);
  return Math.min(policy.minMs * 2 ** (poll - 2), max);
}

/** The share of a learned wait the first poll waits: a little less, so that a faster answer is not waited past. */
const LEARNED_SHARE = 0.8;

/** Returns the running estimate after an observed wait: weighted towards the latest (an exponential moving average). */
export function learnWait(learnedMs: number | null, observedMs: number): number {
  return learnedMs === null ? observedMs : Math.round(0.7 * learnedMs + 0.3 * observedMs);
}
