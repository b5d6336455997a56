/**
 * The host sync agent on the local replica: the bundled agent run as a real process against a real
 * nginx under s6 (the replica's, or one of the test's own), and the same workflow in-process where a
 * test needs the report or must force a fault.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect, rootCertificates, type PeerCertificate } from 'node:tls';
import { createJsonLogger } from '../../functions/adapters/json-logger.js';
import { S3CertificateStore } from '../../functions/adapters/s3-certificate-store.js';
import { S3ConditionalObject } from '../../functions/adapters/s3-conditional-object.js';
import { sha256 } from '../../functions/core/certificate.js';
import { MANIFEST_KEY } from '../../functions/core/layout.js';
import { readAgentCommand, type AgentConfig } from '../../functions/sync/config.js';
import { buildSyncContext } from '../../functions/sync/wiring.js';
import { publishManifest } from '../../functions/workflows/publish-manifest.js';
import { syncHost, type SyncReport } from '../../functions/workflows/sync-host.js';
import type { SyncContext } from '../../functions/workflows/sync-ports.js';
import type { ReplicaState } from '../../scripts/replica/state.js';
import { putText, s3Client, stsClient } from './replica-clients.js';
import { tempDir } from './temp.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
export const agentBundle = join(repoRoot, 'dist', 'sync-agent.js');

/** Builds dist/sync-agent.js once per test process. */
export function ensureAgentBuilt(): void {
  const result = spawnSync('node', [join(repoRoot, 'scripts', 'build.mjs')], { encoding: 'utf8' });
  if (result.status !== 0 || !existsSync(agentBundle)) throw new Error(`building the agent failed: ${result.stderr}`);
}

/** The nginx the agent tests and reloads: the replica's (state.nginx) or a test's own. */
export interface AgentNginx {
  confFile: string;
  serviceDir: string;
  certsDir: string;
  httpsPort: number;
}

export interface AgentSetup {
  bucket: string;
  nginx: AgentNginx;
  stateFile: string;
  /** The agent's lock file, in the test's own directory (the default, /run/acme-sync.lock, is the host's). */
  lockFile: string;
  trustedRootsFile: string;
}

/** Returns the agent's command-line flags for the replica: its bucket, and the nginx of `setup`. */
export function agentArgs(state: ReplicaState, setup: AgentSetup, extra: string[] = []): string[] {
  return [
    '--bucket', setup.bucket,
    '--endpoint', state.awsEndpoint,
    '--region', state.region,
    '--certs-dir', setup.nginx.certsDir,
    '--state-file', setup.stateFile,
    '--lock-file', setup.lockFile,
    '--trusted-roots-file', setup.trustedRootsFile,
    '--tls-address', `127.0.0.1:${setup.nginx.httpsPort}`,
    '--nginx-conf', setup.nginx.confFile,
    '--reload-command', `s6-svc -h ${setup.nginx.serviceDir}`,
    ...extra,
  ];
}

/** The environment the agent gets: the replica's credentials, and nothing a host would not have. */
export const agentEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

/** Runs the bundled agent to completion. */
export function runAgent(state: ReplicaState, setup: AgentSetup, extra: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [agentBundle, ...agentArgs(state, setup, extra)], { env: agentEnv, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs the bundled agent to completion without blocking this process (a proxy in it, such as the
 * fault proxy counting requests, keeps answering).
 */
export function runAgentAsync(state: ReplicaState, setup: AgentSetup, extra: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [agentBundle, ...agentArgs(state, setup, extra)], { env: agentEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the bundled agent without waiting (for the kill test). */
export function startAgent(state: ReplicaState, setup: AgentSetup): ChildProcess {
  return spawn(process.execPath, [agentBundle, ...agentArgs(state, setup)], { env: agentEnv, stdio: 'ignore' });
}

/** Returns the agent's configuration for `setup`, as its command line would give it. */
export function agentConfig(state: ReplicaState, setup: AgentSetup, extra: string[] = []): AgentConfig {
  const command = readAgentCommand(agentArgs(state, setup, extra), {}, rootCertificates);
  if (command.command !== 'sync') throw new Error(`not a sync command: ${command.command}`);
  return command.config;
}

/**
 * Runs the sync workflow in-process with the agent's own wiring, returning its report; `adjust`
 * may replace a part of the context (to force a fault the real component cannot be made to produce).
 */
export async function syncInProcess(state: ReplicaState, setup: AgentSetup, extra: string[] = [], adjust: (ctx: SyncContext) => SyncContext = (ctx) => ctx): Promise<SyncReport> {
  return syncHost(adjust(buildSyncContext(agentConfig(state, setup, extra), { s3: s3Client(state), sts: stsClient(state) }, createJsonLogger(() => undefined), 'test')));
}

/** Returns a fresh state file, lock file and trusted roots for the agent, syncing `bucket` into `nginx`. */
export function agentSetup(bucket: string, trustedRootsPem: string, nginx: AgentNginx): AgentSetup {
  const dir = tempDir('agent');
  const trustedRootsFile = join(dir, 'roots.pem');
  writeFileSync(trustedRootsFile, trustedRootsPem);
  return { bucket, nginx, stateFile: join(dir, 'state', 'state.json'), lockFile: join(dir, 'run', 'acme-sync.lock'), trustedRootsFile };
}

/**
 * Brings the bucket manifest up to date as the renew function does at the end of a run (its own
 * workflow and adapters): after a change a test made by hand, for hosts that read the manifest.
 */
export async function writeManifest(state: ReplicaState, bucket: string): Promise<void> {
  const s3 = s3Client(state);
  const problem = await publishManifest({ store: new S3CertificateStore(s3, bucket), manifest: new S3ConditionalObject(s3, bucket, MANIFEST_KEY), log: () => undefined, now: () => new Date() }, null);
  if (problem) throw new Error(problem);
}

/** Plants a pair in the bucket as the renew function stores it (status.json last, with matching digests). */
export async function plantPair(state: ReplicaState, bucket: string, domain: string, chain: string, key: string): Promise<void> {
  const s3 = s3Client(state);
  await putText(s3, bucket, `${domain}/domain.key`, key);
  await putText(s3, bucket, `${domain}/domain.crt`, chain);
  await putText(s3, bucket, `${domain}/status.json`, JSON.stringify({ domain, files: { 'domain.crt': sha256(chain), 'domain.key': sha256(key) } }));
}

/** Returns the certificate nginx serves for `name` over TLS with SNI; with `ca`, the chain and name must verify against it. */
export function servedCertificate(httpsPort: number, name: string, ca?: string): Promise<PeerCertificate> {
  return new Promise((resolveServed, reject) => {
    const socket = connect({ host: '127.0.0.1', port: httpsPort, servername: name, ...(ca ? { ca, rejectUnauthorized: true } : { rejectUnauthorized: false }) }, () => {
      const certificate = socket.getPeerCertificate();
      socket.end();
      resolveServed(certificate);
    });
    socket.on('error', reject);
  });
}
