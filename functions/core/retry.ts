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
