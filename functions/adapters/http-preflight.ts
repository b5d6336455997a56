/**
 * Fetches `http://<name>/.well-known/acme-challenge/<probe>` the way the CA will, before an order
 * is placed: failed validations count against the CA's rate limits, a failed preflight does not.
 *
 * Like Let's Encrypt's validation (Boulder `va/http.go`), every request tries the host's IPv6
 * addresses first and falls back to IPv4 only when an IPv6 connection cannot be made; a wrong
 * answer over IPv6 is a failure. Redirects are followed and refused as the CA does (the judgement
 * is core/redirects.ts); an https hop sends the name as SNI and does not verify the certificate,
 * as the CA does not: the site may not have a valid one yet.
 */

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { firstHop, judgeRedirect, type HopAnswer, type HopTarget } from '../core/redirects.js';
import { NameResolver } from './name-resolver.js';
import type { Preflight, PreflightResponse } from '../workflows/ports.js';

export interface HttpPreflightOptions {
  /** DNS server (`host:port`) to resolve names with; default: the system resolver (production). */
  dnsServer?: string;
  /** Port the CA connects to for port 80 (HTTP-01 and redirects to port 80): 80 in production. */
  port: number;
  /** Port the CA connects to for port 443 (redirects to https, or to port 443): default 443. */
  httpsPort?: number;
  /** Deadline for each name: every redirect, connection and answer together. */
  timeoutMs: number;
}

/** A refused redirect: the CA would fail the validation there. The message names the hop. */
export class RedirectRefusedError extends Error {
  override readonly name = 'RedirectRefusedError';
}

const MAX_BODY = 4096;
/** Rounds over a host's addresses before the preflight gives up on connection errors. */
const CONNECTION_ROUNDS = 3;
const CONNECTION_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  EAFNOSUPPORT: 'address family not supported',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
};
const CONNECTION_ERRORS = new Set(Object.keys(CONNECTION_WORDS));
/**
 * Failures of an IPv6 connection that mean "this machine has no IPv6 path there" rather than "the
 * host answered": Lambda outside a dual-stack VPC has no IPv6 route at all. ETIMEDOUT is our own
 * connect timeout (a route that leads nowhere).
 */
const NO_ROUTE = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'ETIMEDOUT']);

interface Answer extends HopAnswer {
  body: string;
}

interface ConnectionFailure {
  address: string;
  code: string;
}

export class HttpPreflight implements Preflight {
  private readonly resolver: NameResolver;
  private readonly httpsPort: number;

  constructor(private readonly options: HttpPreflightOptions) {
    this.resolver = new NameResolver(options.dnsServer);
    this.httpsPort = options.httpsPort ?? 443;
  }

  /**
   * Returns the status and (at most 4 KiB of) the body that `name` finally answers for `path`,
   * after the redirects the CA would follow, with `warnings` for what could not be checked as the
   * CA will. Throws when a redirect is one the CA refuses (RedirectRefusedError), or when no
   * address of a host can be reached. A round in which every address refused or reset the
   * connection is tried again (at most three rounds, within the deadline): a web server reloading
   * its configuration drops connections for a moment, which is not a misconfigured name.
   */
  async fetch(name: string, path: string): Promise<PreflightResponse> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const warnings = new Set<string>();
    let target = firstHop(name, path);
    const asked = [target.url];
    for (;;) {
      const answer = await this.ask(target, asked.length - 1, signal, warnings);
      const verdict = judgeRedirect(target, answer, asked);
      switch (verdict.kind) {
        case 'answer':
          return warnings.size > 0 ? { status: answer.status, body: answer.body, warnings: [...warnings] } : { status: answer.status, body: answer.body };
        case 'refuse':
          throw new RedirectRefusedError(verdict.reason);
        case 'follow':
          target = verdict.target;
          asked.push(target.url);
          break;
        default:
          return verdict satisfies never;
      }
    }
  }

  /** Returns one request's answer, `redirects` redirects into the validation (errors then name the URL). */
  private async ask(target: HopTarget, redirects: number, signal: AbortSignal, warnings: Set<string>): Promise<Answer> {
    try {
      return await this.askAddresses(target, signal, warnings);
    } catch (error) {
      if (redirects === 0) throw error;
      throw new Error(`${target.url} (after ${redirects} redirect${redirects === 1 ? '' : 's'}): ${(error as Error).message}`, { cause: error });
    }
  }

  private async askAddresses(target: HopTarget, signal: AbortSignal, warnings: Set<string>): Promise<Answer> {
    const { v6, v4 } = await this.addressesOf(target);
    const port = target.port === 443 ? this.httpsPort : this.options.port;
    let failures: ConnectionFailure[] = [];
    for (let round = 1; round <= CONNECTION_ROUNDS; round += 1) {
      failures = [];
      for (const address of [...v6, ...v4]) {
        try {
          const answer = await this.get(target, address, port, signal);
          if (v4.includes(address)) for (const warning of ipv6Warnings(target, port, failures)) warnings.add(warning);
          return answer;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? '';
          if (!CONNECTION_ERRORS.has(code) || signal.aborted) throw error;
          failures.push({ address, code });
        }
      }
      if (round < CONNECTION_ROUNDS) await new Promise((resolve) => setTimeout(resolve, 250 * round));
      if (signal.aborted) break;
    }
    const tried = failures.map(({ address, code }) => `${address} port ${port}: ${CONNECTION_WORDS[code] ?? code}`).join(', ');
    const onlyUnroutableV6 = v4.length === 0 && failures.length > 0 && failures.every(({ code }) => NO_ROUTE.has(code));
    if (onlyUnroutableV6) throw new Error(`IPv6 not checked: ${target.host} has only IPv6 addresses, and this function cannot reach them (${tried}); Let's Encrypt will connect over IPv6. A dual-stack VPC (docs/deploy.md) lets the function check them`);
    throw new Error(`no address of ${target.host} accepts connections (${tried}; ${CONNECTION_ROUNDS} tries)`);
  }

  /** The addresses to try, IPv6 first: the host's own when the redirect named an IP address. */
  private async addressesOf(target: HopTarget): Promise<{ v6: string[]; v4: string[] }> {
    if (target.ipFamily === 6) return { v6: [target.host], v4: [] };
    if (target.ipFamily === 4) return { v6: [], v4: [target.host] };
    const { v6, v4, problem } = await this.resolver.addresses(target.host);
    if (problem) throw new Error(problem);
    return { v6, v4 };
  }

  /**
   * One request to one address. The connection itself may take at most half the deadline, so that
   * an IPv6 address that never answers leaves time for the IPv4 fallback (Boulder, likewise, bounds
   * each dial below the validation's deadline).
   */
  private get(target: HopTarget, address: string, port: number, signal: AbortSignal): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const connectMs = Math.max(1, Math.floor(this.options.timeoutMs / 2));
      const headers = { host: target.hostHeader, 'user-agent': 'acme-preflight', accept: '*/*' };
      const common = { host: address, port, path: target.path, headers, signal, agent: false as const };
      const onResponse = (response: IncomingMessage) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
          if (body.length >= MAX_BODY) response.destroy();
        });
        response.on('close', () => resolve({ status: response.statusCode ?? 0, location: response.headers.location, body: body.slice(0, MAX_BODY) }));
        response.on('error', reject);
      };
      const request =
        target.scheme === 'https'
          ? // No SNI for an IP address (RFC 6066 section 3 allows host names only).
            https.get({ ...common, servername: target.ipFamily === null ? target.host : '', rejectUnauthorized: false }, onResponse)
          : http.get(common, onResponse);
      const connectTimer = setTimeout(() => request.destroy(Object.assign(new Error(`no connection within ${connectMs} ms`), { code: 'ETIMEDOUT' })), connectMs);
      request.on('socket', (socket) => socket.once('connect', () => clearTimeout(connectTimer)));
      request.on('close', () => clearTimeout(connectTimer));
      request.on('error', (error) => {
        clearTimeout(connectTimer);
        reject(signal.aborted ? new Error(`no answer within ${this.options.timeoutMs} ms`) : error);
      });
    });
  }
}

/**
 * Returns what to say when an IPv4 address of `target` answered after its IPv6 addresses failed
 * (`failures` of the round that succeeded): Let's Encrypt tries IPv6 first, so what the IPv4
 * answer says about the name is only half of what the CA will see.
 */
function ipv6Warnings(target: HopTarget, port: number, failures: readonly ConnectionFailure[]): string[] {
  const v6 = failures.filter(({ address }) => address.includes(':'));
  const unroutable = v6.filter(({ code }) => NO_ROUTE.has(code));
  const refused = v6.filter(({ code }) => !NO_ROUTE.has(code));
  const list = (some: readonly ConnectionFailure[]) => some.map(({ address, code }) => `${address} (${CONNECTION_WORDS[code] ?? code})`).join(', ');
  const warnings: string[] = [];
  if (unroutable.length > 0) {
    warnings.push(
      `IPv6 not checked: ${target.host} has AAAA ${list(unroutable)}, which this function cannot reach; ${target.url} was asked over IPv4 instead. ` +
        `Let's Encrypt tries IPv6 first, so a wrong AAAA record fails its validation whatever IPv4 answered here; a dual-stack VPC (docs/deploy.md) lets the function check IPv6`,
    );
  }
  if (refused.length > 0) {
    warnings.push(
      `${target.host} has AAAA ${list(refused)} on port ${port}, where no web server answers. The preflight fell back to IPv4 for ${target.url}, as Let's Encrypt does too, ` +
        `but the AAAA record points at something that does not serve the site: correct it or remove it`,
    );
  }
  return warnings;
}
