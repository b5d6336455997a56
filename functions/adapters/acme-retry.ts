/**
 * Retries of requests to the CA, at the layer that signs them: acme-client's HttpClient.
 *
 * acme-client 5.4 retries in an axios interceptor, which resends the same signed body, and so the
 * same spent nonce, which the CA must refuse (upstream issue #103); its requests go through
 * adapters/acme-transport.ts instead, so that retry never runs. Here a transient failure (core/retry.ts) of a signed request is sent again
 * through acme-client's own `signedRequest`, which signs it anew with a fresh nonce (the one the
 * CA's error answer carried, RFC 8555 §6.5, or a new one from newNonce). Unsigned requests (the
 * directory, newNonce) are simply sent again. Each retry waits (the CA's `Retry-After`, or a
 * backoff), is bounded by the policy and the invocation's time left, and is reported with its cause.
 *
 * A `badNonce` (RFC 8555 §6.5) is retried here too, at once and with the fresh nonce the rejection
 * carried, up to BAD_NONCE_RETRIES times apart from the transient budget: acme-client's own
 * bad-nonce retry is turned off, since a 503 met inside it would spend a whole try.
 *
 * An answer that is still an error after the retries is thrown as an AcmeProblemError carrying
 * the CA's status, problem type and detail (acme-client would keep only the detail).
 *
 * Nonces are reused (RFC 8555 §7.2: every answer carries a fresh `Replay-Nonce`): the nonce of
 * each answer is kept in a small pool and signs the next request, so newNonce is asked only when
 * the pool is empty (the run's first request, or more requests in flight than answers came back).
 * acme-client asks newNonce before every signed request, which doubles the requests per
 * certificate. A kept nonce is used within NONCE_MAX_AGE_MS; one the CA no longer knows comes back
 * as badNonce with a fresh one, retried at once like any other.
 */

import type acme from 'acme-client';
import { describeTry, isTransient, nextRetry, type FailedTry, type RetryPolicy } from '../core/retry.js';

/** An error answer of the CA (RFC 8555 §6.7): its HTTP status, problem type and detail. */
export class AcmeProblemError extends Error {
  override readonly name = 'AcmeProblemError';
  constructor(
    readonly status: number,
    readonly type: string | null,
    readonly detail: string,
    readonly tries: number,
    why: string | null,
  ) {
    super(`${detail || 'the CA answered with an error'} (${describeTry({ answered: true, status, problemType: type, retryAfter: null })}${tries > 1 ? `, after ${tries} tries${why ? `: ${why}` : ''}` : why && why !== 'not transient' ? `: ${why}` : ''})`);
  }
}

/** A retry about to happen, for the log. */
export interface AcmeRetryEvent {
  request: string;
  /** The try that failed (1 for the first). */
  attempt: number;
  waitMs: number;
  cause: string;
}

export interface AcmeRetrySettings {
  policy: RetryPolicy;
  /** Milliseconds left in the invocation; unbounded when absent. */
  timeLeftMs?: () => number;
  onRetry: (event: AcmeRetryEvent) => void;
  /** Each answer's `Date` header, with when it arrived by `now` (the run's clock): the clock skew is measured on it. */
  onAnswer?: (dateHeader: string | undefined, receivedAt: Date) => void;
  /** The run's clock. */
  now: () => Date;
  /** How long one try may take (the client's request timeout): a retry must leave room for it. */
  requestTimeoutMs: number;
}

interface AcmeResponse {
  status: number;
  headers: Record<string, string | undefined>;
  data: unknown;
}

interface AcmeHttp {
  request(url: string, method: string, opts?: Record<string, unknown>): Promise<AcmeResponse>;
  signedRequest(url: string, payload: unknown, options?: { kid?: string | null; nonce?: string | null; includeExternalAccountBinding?: boolean }, attempts?: number): Promise<AcmeResponse>;
}

/** Installs the retries on `client`'s HTTP layer. Call once per client (one per run). */
export function installAcmeRetries(client: acme.Client, settings: AcmeRetrySettings): void {
  const http = (client as unknown as { http: AcmeHttp & { maxBadNonceRetries: number } }).http;
  http.maxBadNonceRetries = 0;
  const request = http.request.bind(http);
  const signedRequest = Object.getPrototypeOf(http).signedRequest as AcmeHttp['signedRequest'];
  const retrying = retrier(settings);

  http.request = (url, method, opts = {}) => {
    // A signed POST is retried (re-signed) by signedRequest below, never resent as it is.
    if (method.toLowerCase() === 'post') return request(url, method, opts);
    return retrying(`${method.toUpperCase()} ${pathOf(url)}`, () => request(url, method, { ...opts }));
  };
  const nonces = new NoncePool(settings.now);
  http.signedRequest = async function signed(url, payload, options = {}) {
    // The nonce of the next try: the one the CA's last error answer carried, used once. After a try
    // that got no answer (the CA may have spent its nonce) there is none, and the next try takes a
    // kept one, or acme-client asks newNonce.
    let nonce = options.nonce ?? null;
    try {
      return await retrying(`POST ${pathOf(url)}`, async () => {
        const use = nonce ?? nonces.take();
        nonce = null;
        const response = await signedRequest.call(http, url, payload, { ...options, nonce: use }, 0);
        const fresh = response.headers['replay-nonce'] ?? null;
        if (response.status >= 400) nonce = fresh;
        else nonces.keep(fresh);
        return response;
      });
    } finally {
      // An error answer's nonce that no retry used is still good for the next request.
      nonces.keep(nonce);
    }
  };
}

/** A kept nonce older than this is not used: CAs forget nonces after a while (Boulder: minutes). */
const NONCE_MAX_AGE_MS = 60_000;
const NONCES_KEPT = 16;

/** The unused nonces of the CA's answers, newest first; each is handed out once. */
class NoncePool {
  private readonly kept: { nonce: string; at: number }[] = [];

  constructor(private readonly now: () => Date) {}

  keep(nonce: string | null): void {
    if (!nonce) return;
    this.kept.push({ nonce, at: this.now().getTime() });
    if (this.kept.length > NONCES_KEPT) this.kept.shift();
  }

  take(): string | null {
    const oldest = this.now().getTime() - NONCE_MAX_AGE_MS;
    for (let entry = this.kept.pop(); entry; entry = this.kept.pop()) if (entry.at >= oldest) return entry.nonce;
    return null;
  }
}

/** Marks an error the retries are done with: an outer retry (a signed request around its newNonce) must not try it again. */
const SPENT = Symbol('acme retries spent');

function retrier(settings: AcmeRetrySettings) {
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  // Once a request has failed every try, the CA is down for this run: what follows fails at once,
  // with that cause, instead of trying every request of every domain for minutes.
  let down: string | null = null;
  const spent = <T extends Error>(error: T): T => Object.assign(error, { [SPENT]: true });

  return async function retrying(label: string, send: () => Promise<AcmeResponse>): Promise<AcmeResponse> {
    if (down) throw spent(new Error(`the CA is not answering in this run: ${down}`));
    let badNonces = 0;
    for (let attempt = 1; ; attempt += 1) {
      let response: AcmeResponse | null = null;
      let failure: unknown = null;
      let failed: FailedTry;
      try {
        response = await send();
        settings.onAnswer?.(response.headers.date, settings.now());
        if (response.status < 400) return response;
        failed = { answered: true, status: response.status, problemType: problemOf(response).type, retryAfter: response.headers['retry-after'] ?? null };
        if (failed.problemType === BAD_NONCE && badNonces < BAD_NONCE_RETRIES) {
          // A rejected nonce is no fault of the CA's: sign again with the one it sent, now.
          badNonces += 1;
          attempt -= 1;
          continue;
        }
      } catch (error) {
        if ((error as { [SPENT]?: boolean } | null)?.[SPENT]) throw error;
        failure = error;
        failed = { answered: false, code: codeOf(error) };
      }
      // A try may take the request timeout on top of its wait: both must fit in the time left.
      const timeLeftMs = settings.timeLeftMs ? settings.timeLeftMs() - settings.requestTimeoutMs : null;
      const decision = nextRetry({ failed, attempt, policy: settings.policy, now: settings.now(), timeLeftMs, random: Math.random() });
      if (!decision.retry) {
        const why = decision.why === 'not transient' && attempt === 1 ? null : decision.why;
        const error = response
          ? new AcmeProblemError(response.status, problemOf(response).type, problemOf(response).detail, attempt, why)
          : attempt === 1 || !(failure instanceof Error)
            ? failure
            : Object.assign(new Error(`${failure.message} (after ${attempt} tries${why ? `: ${why}` : ''})`, { cause: failure }), { code: codeOf(failure) });
        if (attempt > 1 && isTransient(failed)) down = `${label}: ${error instanceof Error ? error.message : String(error)}`;
        throw error instanceof Error ? spent(error) : error;
      }
      settings.onRetry({ request: label, attempt, waitMs: decision.waitMs, cause: failure instanceof Error ? `${describeTry(failed)}: ${failure.message}` : describeTry(failed) });
      await sleep(decision.waitMs);
    }
  };
}

const BAD_NONCE = 'urn:ietf:params:acme:error:badNonce';
/** With Pebble rejecting half the nonces, 30 retries leave a 1 in 10^9 chance per request. */
const BAD_NONCE_RETRIES = 30;

function problemOf(response: AcmeResponse): { type: string | null; detail: string } {
  const data = response.data as { type?: unknown; detail?: unknown } | string | null | undefined;
  if (data && typeof data === 'object') return { type: typeof data.type === 'string' ? data.type : null, detail: typeof data.detail === 'string' ? data.detail.replace(/\n/g, ' ') : '' };
  return { type: null, detail: typeof data === 'string' ? data.slice(0, 200) : '' };
}

function codeOf(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}

/** The path of a CA URL: enough to tell requests apart in a log line, and free of any secret. */
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return '(unparsable URL)';
  }
}
