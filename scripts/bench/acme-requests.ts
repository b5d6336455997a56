/**
 * Names the requests a client makes to Pebble by what they do, from their paths (Pebble 2.4's
 * wfe/wfe.go: /dir, /nonce-plz, /sign-me-up, …), for counting the ACME requests per certificate.
 */

import type { ProxiedRequest } from '../replica/fault-proxy.js';

/** How many requests of each kind a run made, and how many connections it opened for them. */
export interface RequestTally {
  byKind: Record<string, number>;
  connections: number;
}

/** Pebble's path prefixes, in RFC 8555's order of use (§7.1.1, §7.2, §7.3, §7.4, §7.5, §7.4.2). */
const kinds: [prefix: string, kind: string][] = [
  ['/dir', 'directory'],
  ['/nonce-plz', 'nonce'],
  ['/sign-me-up', 'account'],
  ['/my-account/', 'account'],
  ['/order-plz', 'new order'],
  ['/authZ/', 'authorization'],
  ['/chalZ/', 'challenge'],
  ['/finalize-order/', 'finalize'],
  ['/my-order/', 'order'],
  ['/certZ/', 'certificate'],
];

/** Returns the kind of a request to Pebble (`other <path>` for a path not listed). */
export function requestKind(path: string): string {
  const matches = (prefix: string) => (prefix.endsWith('/') ? path.startsWith(prefix) : path.split('?')[0] === prefix);
  return kinds.find(([prefix]) => matches(prefix))?.[1] ?? `other ${path.split('?')[0]}`;
}

/** Counts `requests` by kind, in the order above. */
export function requestsByKind(requests: readonly ProxiedRequest[], connections: number): RequestTally {
  const byKind: Record<string, number> = Object.fromEntries([...new Set(kinds.map(([, kind]) => kind))].map((kind) => [kind, 0]));
  for (const request of requests) {
    const kind = requestKind(request.path);
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  return { byKind, connections };
}
