/**
 * Fetches `http://<name>/.well-known/acme-challenge/<probe>` the way the CA will, before an order
 * is placed: failed validations count against the CA's rate limits, a failed preflight does not.
 */

import { Resolver } from 'node:dns/promises';
import http from 'node:http';
import type { LookupFunction } from 'node:net';

export interface PreflightResponse {
  status: number;
  body: string;
}

export interface HttpPreflightOptions {
  /** DNS server (`host:port`) to resolve names with; default: the system resolver (production). */
  dnsServer?: string;
  /** Port the CA connects to for HTTP-01: 80 in production. */
  port: number;
  timeoutMs: number;
}

const MAX_BODY = 4096;

export class HttpPreflight {
  private readonly lookup: LookupFunction | undefined;

  constructor(private readonly options: HttpPreflightOptions) {
    this.lookup = options.dnsServer ? resolverLookup(options.dnsServer) : undefined;
  }

  /** Returns the status and (at most 4 KiB of) the body that `name` answers for `path`; throws on network failure. */
  fetch(name: string, path: string): Promise<PreflightResponse> {
    return new Promise((resolve, reject) => {
      const request = http.get(
        { host: name, port: this.options.port, path, headers: { host: name, 'user-agent': 'acme-preflight' }, timeout: this.options.timeoutMs, ...(this.lookup ? { lookup: this.lookup } : {}) },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            if (body.length < MAX_BODY) body += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: body.slice(0, MAX_BODY) }));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      request.on('error', reject);
    });
  }
}

function resolverLookup(server: string): LookupFunction {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([server]);
  return ((hostname: string, options: { all?: boolean }, callback: (error: Error | null, address: string | { address: string; family: number }[], family?: number) => void) => {
    resolver.resolve4(hostname).then(
      (addresses) => {
        const [first] = addresses;
        if (!first) return callback(new Error(`no A record for ${hostname}`), '', 4);
        if (options?.all) return callback(null, addresses.map((address) => ({ address, family: 4 })));
        callback(null, first, 4);
      },
      (error: Error) => callback(error, '', 4),
    );
  }) as LookupFunction;
}
