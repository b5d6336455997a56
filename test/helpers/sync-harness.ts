/**
 * The host sync agent on the local replica: the bundled agent run as a real process (as cron runs
 * it), and the same workflow in-process where a test needs the report's counts.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { rootCertificates } from 'node:tls';
import { createJsonLogger } from '../../functions/adapters/json-logger.js';
import { sha256 } from '../../functions/core/certificate.js';
import { readAgentConfig } from '../../functions/sync/config.js';
import { buildSyncContext } from '../../functions/sync/wiring.js';
import { syncHost, type SyncReport } from '../../functions/workflows/sync-host.js';
import type { SyncContext } from '../../functions/workflows/sync-ports.js';
import type { ReplicaState } from '../../scripts/replica/state.js';
import { putText, s3Client } from './replica-clients.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
export const agentBundle = join(repoRoot, 'dist', 'sync-agent.js');

/** Builds dist/sync-agent.js once per test process. */
export function ensureAgentBuilt(): void {
  const result = spawnSync('node', [join(repoRoot, 'scripts', 'build.mjs')], { encoding: 'utf8' });
  if (result.status !== 0 || !existsSync(agentBundle)) throw new Error(`building the agent failed: ${result.stderr}`);
}

export interface AgentSetup {
  bucket: string;
  certsDir: string;
  stateFile: string;
  /** The agent's lock file, in the test's own directory (the default, /run/acme-sync.lock, is the host's). */
  lockFile: string;
  trustedRootsFile: string;
  /** Replaces the nginx test and reload commands (for tests on a certificates directory nginx does not read). */
  noNginx?: boolean;
}

/** Returns the agent's command-line flags for the replica. */
export function agentArgs(state: ReplicaState, setup: AgentSetup, extra: string[] = []): string[] {
  return [
    '--bucket', setup.bucket,
    '--endpoint', state.awsEndpoint,
    '--region', state.region,
    '--certs-dir', setup.certsDir,
    '--state-file', setup.stateFile,
    '--lock-file', setup.lockFile,
    '--trusted-roots-file', setup.trustedRootsFile,
    '--tls-address', `127.0.0.1:${state.nginx.httpsPort}`,
    ...(setup.noNginx
      ? ['--test-command', 'true', '--reload-command', 'true', '--served-check-seconds', '0']
      : ['--nginx-conf', state.nginx.confFile, '--reload-command', `s6-svc -h ${state.nginx.serviceDir}`]),
    ...extra,
  ];
}

export const agentEnv = { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** Runs the bundled agent to completion. */
export function runAgent(state: ReplicaState, setup: AgentSetup, extra: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('node', [agentBundle, ...agentArgs(state, setup, extra)], { env: agentEnv, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts the bundled agent without waiting (for the kill test). */
export function startAgent(state: ReplicaState, setup: AgentSetup): ChildProcess {
  return spawn('node', [agentBundle, ...agentArgs(state, setup)], { env: agentEnv, stdio: 'ignore' });
}

/**
 * Runs the sync workflow in-process with the agent's own wiring, returning its report; `adjust`
 * may replace a part of the context (to force a fault the real component cannot be made to produce).
 */
export async function syncInProcess(state: ReplicaState, setup: AgentSetup, extra: string[] = [], adjust: (ctx: SyncContext) => SyncContext = (ctx) => ctx): Promise<SyncReport> {
  const config = readAgentConfig(agentArgs(state, setup, extra), {}, rootCertificates);
  return syncHost(adjust(buildSyncContext(config, s3Client(state), createJsonLogger(() => undefined))));
}

/** Returns a fresh temporary directory holding a state file path and (unless given) a certificates directory. */
export function agentSetup(bucket: string, trustedRootsPem: string, certsDir?: string): AgentSetup {
  const dir = mkdtempSync(join(tmpdir(), 'agent-'));
  const trustedRootsFile = join(dir, 'roots.pem');
  writeFileSync(trustedRootsFile, trustedRootsPem);
  return { bucket, certsDir: certsDir ?? join(dir, 'certs'), stateFile: join(dir, 'state', 'state.json'), lockFile: join(dir, 'run', 'acme-sync.lock'), trustedRootsFile };
}

/** Plants a pair in the bucket as the renew function stores it (status.json last, with matching digests). */
export async function plantPair(state: ReplicaState, bucket: string, domain: string, chain: string, key: string): Promise<void> {
  const s3 = s3Client(state);
  await putText(s3, bucket, `${domain}/domain.key`, key);
  await putText(s3, bucket, `${domain}/domain.crt`, chain);
  await putText(s3, bucket, `${domain}/status.json`, JSON.stringify({ domain, files: { 'domain.crt': sha256(chain), 'domain.key': sha256(key) } }));
}

/** Returns the certificate nginx serves for `name` over TLS with SNI; with `ca`, the chain and name must verify against it. */
export function servedCertificate(state: ReplicaState, name: string, ca?: string): Promise<PeerCertificate> {
  return new Promise((resolveServed, reject) => {
    const socket = connect({ host: '127.0.0.1', port: state.nginx.httpsPort, servername: name, ...(ca ? { ca, rejectUnauthorized: true } : { rejectUnauthorized: false }) }, () => {
      const certificate = socket.getPeerCertificate();
      socket.end();
      resolveServed(certificate);
    });
    socket.on('error', reject);
  });
}
