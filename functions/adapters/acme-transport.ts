/**
 * The HTTP transport of the requests to the CA: what acme-client's HttpClient.request does with
 * axios, done with node's http and https modules.
 *
 * acme-client 5.4 sends every request through axios (its `request`: the directory, newNonce and
 * each signed POST). axios, with follow-redirects and its interceptor chain, was a quarter of the
 * renew bundle, about 50 ms of every ordering cold start and a few ms of CPU per request (issue
 * 12), for requests that need none of it: JSON bodies, no cookies, no proxies, no compression.
 * This module takes the place of that one method (installAcmeTransport), so acme-client signs and
 * reads as before and axios is never called; the renew bundle replaces axios with a stub that
 * throws if it ever is (scripts/build.mjs).
 *
 * Contract of `send`: resolves with every answer the CA gave, error statuses included (acme-client
 * and adapters/acme-retry.ts read the problem documents); rejects only when there was no answer
 * (refused, reset, DNS, TLS, timeout, a body over MAX_BODY_BYTES), with an error that names the
 * request and keeps node's error `code`, which the retries judge (core/retry.ts).
 */

import http from 'node:http';
import https from 'node:https';

/** What acme-client reads of an answer: as axios gave it, with header names in lower case. */
export interface AcmeHttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  /** The body: parsed when it is JSON (a directory, an order, a problem document), else the text (a PEM chain, empty for HEAD). */
  data: unknown;
}

export interface AcmeTransportSettings {
  /** The most a request may take, from sending to the body's end. */
  timeoutMs: number;
  /** RFC 8555 §6.1: every request names its client. */
  userAgent: string;
}

/** Answers of an ACME server are small (the largest is a certificate chain); a larger body is not what was asked for. */
export const MAX_BODY_BYTES = 1 << 20;
/** Unsigned requests (the directory, newNonce) follow redirects as axios did; signed POSTs never do (RFC 8555 §6.2: the URL is signed). */
const MAX_REDIRECTS = 3;

export type AcmeSend = (url: string, method: string, options?: { data?: unknown; headers?: Record<string, string> }) => Promise<AcmeHttpResponse>;

/** Returns the transport: one request per call, over node's shared keep-alive agents. */
export function createAcmeTransport(settings: AcmeTransportSettings): AcmeSend {
  return async (url, method, options = {}) => {
    const verb = method.toUpperCase();
    const body = options.data === undefined || options.data === null ? null : Buffer.from(typeof options.data === 'string' ? options.data : JSON.stringify(options.data));
    const headers: Record<string, string> = {
      Accept: 'application/json, application/pem-certificate-chain, */*',
      'User-Agent': settings.userAgent,
      ...options.headers,
      // acme-client sends every request as JWS (RFC 8555 §6.2); the CA ignores it on GET and HEAD.
      'Content-Type': 'application/jose+json',
      ...(body ? { 'Content-Length': String(body.length) } : {}),
    };
    const deadline = Date.now() + settings.timeoutMs;
    let target = url;
    for (let redirects = 0; ; redirects += 1) {
      const answer = await exchange(target, verb, headers, body, deadline - Date.now(), settings.timeoutMs).catch((error: unknown) => {
        throw transportError(verb, url, error);
      });
      const location = answer.headers.location;
      if (!((verb === 'GET' || verb === 'HEAD') && answer.status >= 300 && answer.status < 400 && location && redirects < MAX_REDIRECTS)) return answer;
      try {
        target = new URL(location, target).toString();
      } catch (error) {
        throw transportError(verb, url, Object.assign(new Error(`redirected to an unreadable location ${JSON.stringify(location.slice(0, 200))}`, { cause: error }), { code: 'ERR_INVALID_URL' }));
      }
    }
  };
}

/** One request and its whole answer; rejects when there is none within `remainingMs` (of the request's `timeoutMs`). */
function exchange(url: string, method: string, headers: Record<string, string>, body: Buffer | null, remainingMs: number, timeoutMs: number): Promise<AcmeHttpResponse> {
  return new Promise((resolve, reject) => {
    const parsed = new URL(url);
    const send = parsed.protocol === 'https:' ? https.request : parsed.protocol === 'http:' ? http.request : null;
    if (!send) return reject(Object.assign(new Error(`unsupported protocol ${parsed.protocol}`), { code: 'ERR_INVALID_PROTOCOL' }));
    const request = send(parsed, { method, headers }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) request.destroy(Object.assign(new Error(`the answer is larger than ${MAX_BODY_BYTES} bytes`), { code: 'ERR_BODY_TOO_LARGE' }));
        else chunks.push(chunk);
      });
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, headers: flatHeaders(response.headers), data: bodyOf(Buffer.concat(chunks).toString('utf8'), response.headers['content-type']) });
      });
      response.on('error', fail);
    });
    const timer = setTimeout(() => request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), Math.max(remainingMs, 0));
    function fail(error: Error) {
      clearTimeout(timer);
      reject(error);
    }
    request.on('error', fail);
    request.end(body ?? undefined);
  });
}

/**
 * Returns the body as axios would: JSON parsed when it is typed so or reads as JSON whatever its
 * type (a problem document behind a proxy that types it text/plain must still be read: its type
 * decides whether a retry helps), a certificate chain and anything else as text.
 */
function bodyOf(text: string, contentType: string | undefined): unknown {
  const json = contentType && /[/+]json\b/i.test(contentType) ? true : !/pem-certificate-chain/i.test(contentType ?? '') && /^\s*[[{]/.test(text);
  if (!json || text === '') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Node gives repeated headers as arrays only for a few (set-cookie); acme-client reads single strings. */
function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/** The error of a request that got no answer: it names the request (without credentials or query) and keeps node's code. */
function transportError(method: string, url: string, error: unknown): Error {
  const code = (error as { code?: unknown } | null)?.code;
  const reason = error instanceof Error ? error.message : String(error);
  const named = typeof code === 'string' && !reason.includes(code) ? `${reason} (${code})` : reason;
  return Object.assign(new Error(`request to the CA failed: ${method} ${withoutSecrets(url)}: ${named}`, { cause: error }), {
    code: typeof code === 'string' ? code : undefined,
  });
}

/** Returns `url` without credentials or query, which have no place in a log line. */
function withoutSecrets(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** acme-client's HttpClient, the one method replaced. */
interface HttpClientRequest {
  request: AcmeSend;
}

/**
 * Sends every request of `client` (an acme-client Client) through `send`: the directory, newNonce
 * and each signed POST, which acme-client makes through its HttpClient's `request`. Call before
 * installAcmeRetries, which wraps it.
 */
export function installAcmeTransport(client: object, send: AcmeSend): void {
  const httpClient = (client as { http?: HttpClientRequest }).http;
  if (!httpClient || typeof httpClient.request !== 'function') throw new Error('acme-client has no HttpClient.request to send through (was acme-client upgraded? package.json pins 5.4.0, whose internals this relies on)');
  httpClient.request = send;
}
