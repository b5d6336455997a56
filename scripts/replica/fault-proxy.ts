/**
 * A fault-injecting proxy in front of a real component of the replica: moto (S3, SSM, SNS, STS)
 * over HTTP, or Pebble over HTTPS. Requests pass through to the component unchanged (the Host
 * header too: Pebble writes its URLs from it, so every URL the CA hands out points back at the
 * proxy), except those a rule picks, which get the fault instead:
 *
 * - `server-error`: 503 with an ACME problem document (`serverInternal`) and `Retry-After`;
 * - `rate-limited`: 429 with an ACME problem document (`rateLimited`) and `Retry-After`;
 * - `slowdown`: S3's 503 SlowDown (XML);
 * - `throttle`: the JSON protocol's 400 ThrottlingException (SSM);
 * - `internal`: S3's 500 InternalError;
 * - `reset`: the connection is closed without an answer;
 * - `hang`: no answer until the client gives up (or the proxy closes);
 * - `lost-answer`: the request reaches the component, which acts on it, but its answer is dropped
 *   and the connection closed (the client cannot tell whether it was done).
 *
 * A rule picks the first `times` matching requests, or a `share` of them drawn from a seeded
 * generator (the same seed picks the same requests in the same order). With `delayMs`, every
 * request that passes takes that long more, as over a long network path: half on the way to the
 * component (the request is read whole first), half on the way back. Used by the fault tests and
 * `npm run bench`.
 */

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

export type Fault = 'server-error' | 'rate-limited' | 'slowdown' | 'throttle' | 'internal' | 'reset' | 'hang' | 'lost-answer';

/** What a rule sees of a request. */
export interface ProxiedRequest {
  method: string;
  path: string;
  /** `ssm` (JSON protocol, X-Amz-Target AmazonSSM.*), `query` (SNS, STS: form posts to /), `s3`, or `acme` for a proxy in front of the CA. */
  service: 'ssm' | 'query' | 's3' | 'acme';
}

export interface FaultRule {
  /** Which requests the rule may fault (all when absent). */
  match?: (request: ProxiedRequest) => boolean;
  /** Fault the first `times` matching requests… */
  times?: number;
  /** …or this share of them (0 to 1). */
  share?: number;
  fault: Fault;
  /** For `server-error`, `rate-limited` and `slowdown`: the Retry-After header, in seconds (none when absent). */
  retryAfterSeconds?: number;
}

export interface FaultProxy {
  /** The proxy's base URL (`http://127.0.0.1:PORT` or `https://…`). */
  url: string;
  /** How many requests passed, how many got each fault, and how many connections clients opened. */
  counts: { passed: number; faulted: Partial<Record<Fault, number>>; connections: number };
  /**
   * Every request the proxy saw, in order, with the fault it got (null: passed through), the
   * component's answer status (when it answered) and, for a signed ACME request, the nonce its
   * JWS carried (RFC 8555 §6.5: a nonce is good for one request).
   */
  log: { request: ProxiedRequest; fault: Fault | null; status?: number; nonce?: string }[];
  /** Replaces the rules (their counts start again). */
  setRules(rules: FaultRule[]): void;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** The component's base URL. */
  target: string;
  /** Serve HTTPS with this certificate and key (Pebble's API certificate), and trust `ca` for the target. */
  tls?: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer };
  rules: FaultRule[];
  seed?: number;
  /**
   * The round trip each passing request adds, in ms (none when absent): half before the request
   * reaches the component, half before its answer reaches the client. A client's new connection
   * costs nothing more (a real one costs a round trip for TCP and one or two for TLS).
   */
  delayMs?: number;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const random = seeded(options.seed ?? 1);
  let rules = options.rules.map((rule) => ({ rule, picked: 0 }));
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = {
    url: '',
    counts: { passed: 0, faulted: {}, connections: 0 },
    log: [],
    setRules(next) {
      rules = next.map((rule) => ({ rule, picked: 0 }));
    },
    close: () => close(),
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const seen: ProxiedRequest = { method: request.method ?? 'GET', path: request.url ?? '/', service: options.tls ? 'acme' : serviceOf(request) };
    const entry: FaultProxy['log'][number] = { request: seen, fault: null };
    proxy.log.push(entry);
    if (seen.service === 'acme' && seen.method === 'POST') recordNonce(request, entry);
    const chosen = rules.find((entry) => {
      if (entry.rule.match && !entry.rule.match(seen)) return false;
      if (entry.rule.times !== undefined) return entry.picked < entry.rule.times;
      return random() < (entry.rule.share ?? 0);
    });
    if (chosen) {
      chosen.picked += 1;
      proxy.counts.faulted[chosen.rule.fault] = (proxy.counts.faulted[chosen.rule.fault] ?? 0) + 1;
      entry.fault = chosen.rule.fault;
      if (chosen.rule.fault === 'lost-answer') {
        forward(request, response, entry, true);
        return;
      }
      request.resume();
      answerWithFault(chosen.rule, request, response);
      return;
    }
    proxy.counts.passed += 1;
    forward(request, response, entry);
  };

  const halfDelayMs = (options.delayMs ?? 0) / 2;
  const forward = (request: IncomingMessage, response: ServerResponse, entry: FaultProxy['log'][number], dropAnswer = false) => {
    const send = target.protocol === 'https:' ? https.request : http.request;
    const upstream = () => {
      const outgoing = send(
        { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers, ...(options.tls ? { ca: options.tls.ca, servername: target.hostname === '127.0.0.1' ? undefined : target.hostname } : {}) },
        (answer) => {
          if (answer.statusCode !== undefined) entry.status = answer.statusCode;
          if (dropAnswer) {
            answer.resume();
            answer.on('end', () => request.socket.destroy());
            return;
          }
          // The answer stays paused (buffered) until it is piped.
          after(halfDelayMs, () => {
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(response);
          });
        },
      );
      outgoing.on('error', () => response.destroy());
      return outgoing;
    };
    if (halfDelayMs === 0) {
      request.pipe(upstream());
      return;
    }
    // Read whole first: a body streaming in while the request waits would be lost.
    const body: Buffer[] = [];
    request.on('data', (chunk: Buffer) => body.push(chunk));
    request.on('end', () => after(halfDelayMs, () => upstream().end(Buffer.concat(body))));
  };

  const server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handle) : http.createServer(handle);
  server.on('connection', (socket: Socket) => {
    proxy.counts.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  proxy.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  function close(): Promise<void> {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  }
  return proxy;
}

function after(ms: number, run: () => void): void {
  if (ms > 0) setTimeout(run, ms);
  else run();
}

function answerWithFault(rule: FaultRule, request: IncomingMessage, response: ServerResponse): void {
  const retryAfter = rule.retryAfterSeconds !== undefined ? { 'retry-after': String(rule.retryAfterSeconds) } : {};
  switch (rule.fault) {
    case 'server-error':
      response.writeHead(503, { 'content-type': 'application/problem+json', ...retryAfter });
      response.end(JSON.stringify({ type: 'urn:ietf:params:acme:error:serverInternal', detail: 'the service is unavailable (injected by the fault proxy)', status: 503 }));
      return;
    case 'rate-limited':
      response.writeHead(429, { 'content-type': 'application/problem+json', ...retryAfter });
      response.end(JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many requests (injected by the fault proxy)', status: 429 }));
      return;
    case 'slowdown':
      response.writeHead(503, { 'content-type': 'application/xml', ...retryAfter });
      response.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault-proxy</RequestId></Error>');
      return;
    case 'throttle':
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' });
      response.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
      return;
    case 'internal':
      response.writeHead(500, { 'content-type': 'application/xml' });
      response.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>fault-proxy</RequestId></Error>');
      return;
    case 'reset':
      request.socket.destroy();
      return;
    case 'hang':
    case 'lost-answer':
      return;
  }
}

/** Reads the nonce from a JWS request body (flattened JSON serialization) as it streams past. */
function recordNonce(request: IncomingMessage, entry: { nonce?: string }): void {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    try {
      const jws = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { protected?: string };
      const header = JSON.parse(Buffer.from(jws.protected ?? '', 'base64url').toString('utf8')) as { nonce?: string };
      if (header.nonce) entry.nonce = header.nonce;
    } catch {
      // Not a JWS: nothing to record.
    }
  });
}

function serviceOf(request: IncomingMessage): ProxiedRequest['service'] {
  const target = String(request.headers['x-amz-target'] ?? '');
  if (target.startsWith('AmazonSSM.')) return 'ssm';
  if (request.method === 'POST' && (request.url === '/' || request.url === '') && String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return 'query';
  return 's3';
}

/** mulberry32: a small seeded generator, so a run's faults can be repeated. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
