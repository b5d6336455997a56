import { readFileSync } from 'node:fs';
import type { ReplicaState } from './state.js';

/**
 * Returns the renew function's environment on the local replica (what serverless.yml's local stage
 * receives): the replica's buckets, Pebble, its root, and the preflight through the replica's DNS
 * and nginx. Polling is the function's own (config.ts).
 */
export function renewEnvironment(state: ReplicaState): Record<string, string> {
  return {
    CERTIFICATES_BUCKET: state.buckets.certificates,
    CHALLENGES_BUCKET: state.buckets.challenges,
    ACCOUNT_KEY_PARAMETER: state.accountKeyParameter,
    ACME_DIRECTORY_URL: state.acme.directoryUrl,
    TRUSTED_ROOTS_PEM: readFileSync(state.acme.rootsFile, 'utf8'),
    PREFLIGHT_PORT: String(state.nginx.httpPort),
    PREFLIGHT_DNS_SERVER: state.dns.server,
    SERVED_CHECK_PORT: String(state.nginx.httpsPort),
  };
}
