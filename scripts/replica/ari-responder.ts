/**
 * TEST FIXTURE: an ACME front for the replica's Pebble, standing in for what Pebble 2.4 (Debian's)
 * lacks: ACME Renewal Information (ARI, RFC 9773) and certificate profiles
 * (draft-aaron-acme-profiles). It is not part of the product and never runs outside the tests.
 *
 * What it does:
 * - serves Pebble's directory with `renewalInfo` added (RFC 9773 §3; `setAri(false)` leaves it out)
 *   and `meta.profiles` (name → description) when a test set profiles;
 * - answers `GET <renewalInfo>/<certID>` (RFC 9773 §4.2) with the window the test set for that
 *   certificate identifier, or the `'*'` window, with `Retry-After`; 404 when none applies; any
 *   status a test asks for instead (to test a client's fallback); it records every certID asked for;
 * - records the payload of every new order (RFC 8555 §7.4), so tests can see `replaces` (RFC 9773
 *   §5) and `profile`, and passes it on to Pebble (which ignores both: it neither checks that
 *   `replaces` names a certificate of the account nor issues by profile);
 * - refuses a finalize whose CSR's public key a test blocked, with `badPublicKey` (RFC 8555 §6.7),
 *   before Pebble sees it: what Let's Encrypt does for a blocked key, which Pebble cannot be made to
 *   do; the refusal carries a fresh nonce from Pebble, as a real CA's error answer does (§6.5);
 * - passes every other request to Pebble unchanged, the Host header too (as fault-proxy.ts does),
 *   so every URL Pebble writes points back at this fixture.
 *
 * What it does not do: decide windows (tests set them; Let's Encrypt computes them from the
 * certificate's lifetime and its own incidents), check that a `replaces` order is a renewal, refuse
 * an order for a profile the directory does not offer (Pebble 2.4 accepts any name), apply a profile
 * to what Pebble issues, or verify the JWS of a finalize it refuses (Pebble verifies everything it
 * is passed).
 */

import { createHash, createPublicKey } from 'node:crypto';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Pkcs10CertificateRequest } from '@peculiar/x509';

/** A suggested renewal window (RFC 9773 §4.2) as a test sets it. */
export interface AriWindow {
  start: Date;
  end: Date;
  explanationURL?: string;
  /** The `Retry-After` header, in seconds; 21600 (six hours) when absent. */
  retryAfterSeconds?: number;
}

export interface AriResponderOptions {
  /** Pebble's base URL (`https://127.0.0.1:PORT`). */
  target: string;
  /** Serve HTTPS with this certificate and key (Pebble's API certificate), and trust `ca` for Pebble. */
  tls: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer };
}

export interface AriResponder {
  /** The fixture's base URL, `https://127.0.0.1:PORT`. */
  url: string;
  /** Its directory, `<url>/dir`: give this to the client under test. */
  directoryUrl: string;
  /** The certificate identifiers of every renewal-information request, in order. */
  renewalInfoFetches: string[];
  /** The decoded payload of every new-order request Pebble accepted (201: not one it refused, e.g. for a bad nonce), in order. */
  orders: Record<string, unknown>[];
  /** How many finalize requests were refused with `badPublicKey`. */
  refusedFinalizes: number;
  /** Offers ARI (`renewalInfo` in the directory; the default) or not. */
  setAri(offered: boolean): void;
  /** Sets the directory's `meta.profiles` (name → description); null leaves it out (the default). */
  setProfiles(profiles: Record<string, string> | null): void;
  /** Sets the window served for `certId`, or with `'*'` for every certificate without its own. */
  setWindow(certId: string, window: AriWindow): void;
  /** Answers every renewal-information request with this status (e.g. 503) instead; null: serve windows again. */
  setRenewalInfoFault(status: number | null): void;
  /** Replaces the blocked keys: SHA-256 (hex) digests of SubjectPublicKeyInfo DER, as `keySha256` computes them. */
  refuseKeys(spkiSha256: string[]): void;
  /** Closes the server and every connection to it. */
  close(): Promise<void>;
}

const RENEWAL_INFO_PATH = '/renewal-info';
const DEFAULT_RETRY_AFTER_SECONDS = 21600;

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Starts the fixture in front of Pebble; returns once it listens and knows Pebble's directory. */
export async function startAriResponder(options: AriResponderOptions): Promise<AriResponder> {
  const target = new URL(options.target);
  let ariOffered = true;
  let profiles: Record<string, string> | null = null;
  let renewalInfoFault: number | null = null;
  let blockedKeys = new Set<string>();
  const windows = new Map<string, AriWindow>();
  const sockets = new Set<Socket>();

  /** Sends one request to Pebble and returns its whole answer. */
  const upstream = (method: string, path: string, headers: IncomingHttpHeaders, body?: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const sent = https.request(
        { host: target.hostname, port: target.port, method, path, headers, ca: options.tls.ca, servername: target.hostname === '127.0.0.1' ? undefined : target.hostname },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }));
          answer.on('error', reject);
        },
      );
      sent.on('error', reject);
      sent.end(body);
    });

  // Pebble's own resource paths; its URLs name Pebble's host here, the paths are the same through the fixture.
  const pebbleDirectory = JSON.parse((await upstream('GET', '/dir', {})).body.toString('utf8')) as Record<string, unknown>;
  const newOrderPath = new URL(String(pebbleDirectory.newOrder)).pathname;
  const newNoncePath = new URL(String(pebbleDirectory.newNonce)).pathname;

  const fixture: AriResponder = {
    url: '',
    directoryUrl: '',
    renewalInfoFetches: [],
    orders: [],
    refusedFinalizes: 0,
    setAri: (offered) => void (ariOffered = offered),
    setProfiles: (next) => void (profiles = next ? { ...next } : null),
    setWindow: (certId, window) => void windows.set(certId, { ...window }),
    setRenewalInfoFault: (status) => void (renewalInfoFault = status),
    refuseKeys: (digests) => void (blockedKeys = new Set(digests.map((digest) => digest.toLowerCase()))),
    close: () => close(),
  };

  /** Pebble's directory, fetched with the client's Host (so its URLs point here), with ARI and profiles as the test set them. */
  const serveDirectory = async (request: IncomingMessage, response: ServerResponse) => {
    const answer = await upstream('GET', request.url ?? '/dir', request.headers);
    if (answer.status !== 200) return relay(answer, response);
    const directory = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown> & { meta?: Record<string, unknown> };
    if (ariOffered) directory.renewalInfo = `${fixture.url}${RENEWAL_INFO_PATH}`;
    if (profiles) directory.meta = { ...directory.meta, profiles };
    relay({ ...answer, body: Buffer.from(JSON.stringify(directory, null, 2)) }, response);
  };

  /** RFC 9773 §4.2: the suggested window of one certificate. */
  const serveRenewalInfo = (certId: string, response: ServerResponse) => {
    fixture.renewalInfoFetches.push(certId);
    if (!ariOffered) return problem(response, 404, 'malformed', 'no renewal information here (test fixture: ARI turned off)');
    if (renewalInfoFault !== null) {
      return problem(response, renewalInfoFault, 'serverInternal', `renewal information is unavailable (test fixture answering ${renewalInfoFault})`);
    }
    const window = windows.get(certId) ?? windows.get('*');
    if (!window) return problem(response, 404, 'malformed', `no renewal information for ${certId} (test fixture: no window set)`);
    response.writeHead(200, { 'content-type': 'application/json', 'retry-after': String(window.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS) });
    response.end(JSON.stringify({
      suggestedWindow: { start: window.start.toISOString(), end: window.end.toISOString() },
      ...(window.explanationURL !== undefined ? { explanationURL: window.explanationURL } : {}),
    }));
  };

  /** A finalize (RFC 8555 §7.4) for a blocked key gets `badPublicKey` and a fresh nonce; Pebble never sees it. */
  const refuseFinalize = async (response: ServerResponse) => {
    fixture.refusedFinalizes += 1;
    const nonce = (await upstream('HEAD', newNoncePath, {}).catch(() => null))?.headers['replay-nonce'];
    problem(response, 400, 'badPublicKey', 'public key is blocked (test fixture)', {
      ...(typeof nonce === 'string' ? { 'replay-nonce': nonce } : {}),
      link: `<${fixture.directoryUrl}>;rel="index"`,
    });
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const body = await readBody(request);
    if (request.method === 'GET' && path === '/dir') return serveDirectory(request, response);
    if (request.method === 'GET' && path.startsWith(`${RENEWAL_INFO_PATH}/`)) {
      return serveRenewalInfo(decodeURIComponent(path.slice(RENEWAL_INFO_PATH.length + 1)), response);
    }
    const payload = request.method === 'POST' ? jwsPayload(body) : null;
    if (typeof payload?.csr === 'string' && blockedKeys.has(csrKeySha256(payload.csr) ?? '')) return refuseFinalize(response);
    const answer = await upstream(request.method ?? 'GET', request.url ?? '/', request.headers, body);
    if (path === newOrderPath && payload && answer.status === 201) fixture.orders.push(payload);
    relay(answer, response);
  };

  const server = https.createServer({ cert: options.tls.cert, key: options.tls.key }, (request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  fixture.url = `https://127.0.0.1:${port}`;
  fixture.directoryUrl = `${fixture.url}/dir`;

  function close(): Promise<void> {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  }
  return fixture;
}

/** Writes Pebble's answer to the client, its headers as they were (but the length, which may have changed). */
function relay(answer: Upstream, response: ServerResponse): void {
  const headers = { ...answer.headers };
  delete headers['content-length'];
  delete headers['transfer-encoding'];
  response.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) });
  response.end(answer.body);
}

/** An ACME problem document (RFC 8555 §6.7). */
function problem(response: ServerResponse, status: number, type: string, detail: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
  response.end(JSON.stringify({ type: `urn:ietf:params:acme:error:${type}`, detail, status }));
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** Returns the decoded payload of a JWS in flattened JSON serialization (RFC 8555 §6.2), or null (not a JWS, or POST-as-GET). */
function jwsPayload(body: Buffer): Record<string, unknown> | null {
  try {
    const jws = JSON.parse(body.toString('utf8')) as { payload?: unknown };
    if (typeof jws.payload !== 'string' || jws.payload === '') return null;
    const payload = JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as unknown;
    return payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Returns the SHA-256 (hex) of the SubjectPublicKeyInfo DER of a CSR's key, as functions/core/
 * certificate.ts `keySha256` computes it (node's SPKI export); null when the CSR does not parse
 * (Pebble then answers `badCSR` itself).
 */
function csrKeySha256(csrBase64url: string): string | null {
  try {
    const request = new Pkcs10CertificateRequest(Buffer.from(csrBase64url, 'base64url'));
    const key = createPublicKey({ key: Buffer.from(request.publicKey.rawData), format: 'der', type: 'spki' });
    return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
  } catch {
    return null;
  }
}
