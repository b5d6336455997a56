/**
 * Fetches `http://<name>/.well-known/acme-challenge/<probe>` the way the CA will, before an order
 * is placed: failed validations count against the CA's rate limits, a failed preflight does not.
 *
 * Like Let's Encrypt's validation, it tries the name's IPv6 addresses first and falls back to IPv4
 * only when an IPv6 connection cannot be made; a wrong answer over IPv6 is a failure. Redirects are
 * not followed (the CA would follow them): the nginx template answers challenges directly.
 */

import http from 'node:http';
import { NameResolver } from './name-resolver.js';
import type { Preflight, PreflightResponse } from '../workflows/ports.js';


export interface HttpPreflightOptions {
  /** DNS server (`host:port`) to resolve names with; default: the system resolver (production). */
  dnsServer?: string;
  /** Port the CA connects to for HTTP-01: 80 in production. */
  port: number;
  /** Deadline for each name, connection and answer together. */
  timeoutMs: number;
}

const MAX_BODY = 4096;
/** Rounds over a name's addresses before the preflight gives up on connection errors. */
const CONNECTION_ROUNDS = 3;
const CONNECTION_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
};
const CONNECTION_ERRORS = new Set(Object.keys(CONNECTION_WORDS));

export class HttpPreflight implements Preflight {
  private readonly resolver: NameResolver;

  constructor(private readonly options: HttpPreflightOptions) {
    this.resolver = new NameResolver(options.dnsServer);
  }

  /**
   * Returns the status and (at most 4 KiB of) the body that `name` answers for `path`; throws when
   * no address of it can be reached. A round in which every address refused or reset the
   * connection is tried again (at most three rounds, within the deadline): a web server reloading
   * its configuration drops connections for a moment, which is not a misconfigured name.
   */
  async fetch(name: string, path: string): Promise<PreflightResponse> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const { v6, v4, problem } = await this.resolver.addresses(name);
    if (problem) throw new Error(problem);
    let unreachable: string[] = [];
    for (let round = 1; round <= CONNECTION_ROUNDS; round += 1) {
      unreachable = [];
      for (const address of [...v6, ...v4]) {
        try {
          return await this.get(address, name, path, signal);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? '';
          if (!CONNECTION_ERRORS.has(code) || signal.aborted) throw error;
          unreachable.push(`${address} port ${this.options.port}: ${CONNECTION_WORDS[code] ?? code}`);
        }
      }
      if (round < CONNECTION_ROUNDS) await new Promise((resolve) => setTimeout(resolve, 250 * round));
      if (signal.aborted) break;
    }
    throw new Error(`no address of ${name} accepts connections (${unreachable.join(', ')}; ${CONNECTION_ROUNDS} tries)`);
  }

  private get(address: string, name: string, path: string, signal: AbortSignal): Promise<PreflightResponse> {
    return new Promise((resolve, reject) => {
      const request = http.get({ host: address, port: this.options.port, path, headers: { host: name, 'user-agent': 'acme-preflight' }, signal }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
          if (body.length >= MAX_BODY) response.destroy();
        });
        response.on('close', () => resolve({ status: response.statusCode ?? 0, body: body.slice(0, MAX_BODY) }));
        response.on('error', reject);
      });
      request.on('error', (error) => reject(signal.aborted ? new Error(`no answer within ${this.options.timeoutMs} ms`) : error));
    });
  }
}
