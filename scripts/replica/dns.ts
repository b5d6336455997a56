import { Resolver } from 'node:dns/promises';
import { startLogged, waitUntilReady, type ReplicaProcess } from './processes.js';
import type { ReplicaState } from './state.js';

/**
 * Starts pebble-challtestsrv as a DNS server only (its own challenge servers off) that answers
 * 127.0.0.1 for every A query and nothing for AAAA; returns once it resolves a name.
 */
export async function startDns(dnsPort: number, managementPort: number, logFile: string, started: ReplicaProcess[]): Promise<ReplicaProcess> {
  const server = `127.0.0.1:${dnsPort}`;
  const dns = await startLogged(
    'dns',
    'pebble-challtestsrv',
    ['-dns01', server, '-management', `127.0.0.1:${managementPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    logFile,
    started,
  );
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([server]);
  await waitUntilReady(dns, `DNS on ${server}`, async () => (await resolver.resolve4('readiness.test')).includes('127.0.0.1'));
  return dns;
}

async function postManagement(state: ReplicaState, path: string, body: object): Promise<void> {
  const response = await fetch(`${state.dns.managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`dns: POST ${path}: status ${response.status}: ${await response.text()}`);
}

/** Makes `host` resolve to `ip` (A record) instead of the default 127.0.0.1. */
export async function setDnsA(state: ReplicaState, host: string, ip: string): Promise<void> {
  await postManagement(state, '/add-a', { host: fqdn(host), addresses: [ip] });
}

/** Removes the A records set for `host`; it resolves to the default 127.0.0.1 again. Safe to call twice. */
export async function clearDnsA(state: ReplicaState, host: string): Promise<void> {
  await postManagement(state, '/clear-a', { host: fqdn(host) });
}

// challtestsrv matches the query name, which is fully qualified.
function fqdn(host: string): string {
  return host.endsWith('.') ? host : `${host}.`;
}
