/**
 * npm run bench: five parts, each printing its figures next to their targets (BENCH_ONLY=coldstart,
 * agent, faults or status runs one; BENCH_ONLY=agent,status runs two):
 *
 * - coldstart (scripts/bench/coldstart.ts): the renew bundle's size and import time, against
 *   `node -e 0`; it needs no replica;
 * - idle (scripts/bench/idle.ts): a renewal run over 1000 domains with nothing due: its requests
 *   (one listing, one GET a domain, no account) and its time;
 *
 * - status (scripts/bench/status.ts): `acme-certs status` at 1000 domains, its requests counted,
 *   against reading each status.json in turn;
 * - faults (scripts/bench/faults.ts): 30 certificates issued in one run with a fifth of the CA's
 *   requests answered 503 and a fifth of S3's SlowDown, against a clean run;
 * - agent: the host sync agent at 1000 domains on the local replica (moto), against the
 * `aws s3 sync` baseline measured in the same run on the same bucket (when the aws CLI is
 * installed; otherwise against LOCAL-STACK.md's figures: first full sync ≈ 21 s, no-change ≈ 2.2 s).
 *
 * The agent runs as a real process against an nginx of its own with one server block per domain
 * (rendered from the site template), as a host with 1000 sites has: it tests nginx's configuration
 * (nginx -T), reloads it once and checks every new serial over TLS. Measured: the first sync (3000
 * downloads, 1000 verifications and atomic installs, then nginx), a sync with nothing changed
 * (no nginx at all), and a sync after 10 renewals; and the peak RSS. Targets: the no-change sync
 * no slower than the baseline; the first sync's download, verify and install part (its time up to
 * the configuration test) no slower than the baseline, which verifies nothing, installs nothing and
 * leaves same-size renewals stale; 10 renewals within the no-change time plus the nginx steps plus
 * 1 s; peak RSS ≤ 256 MB. Exits non-zero when a target is missed. Starts the replica when it is not
 * running, and then stops it.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { sha256 } from '../functions/core/certificate.js';
import { mapWithConcurrency } from '../functions/core/concurrency.js';
import { issue, newKey } from '../test/helpers/pki.js';
import { startNginxInstance } from './replica/nginx-instance.js';
import { replicaS3Client } from './replica/provision.js';
import { findReplicaState, readReplicaState, type ReplicaState } from './replica/state.js';
import { faultBench } from './bench/faults.js';
import { statusBench } from './bench/status.js';
import { coldStartBench } from './bench/coldstart.js';
import { idleBench } from './bench/idle.js';

const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 1000);
const FALLBACK_BASELINE = { firstSyncMs: 21_000, noChangeMs: 2_200 };
const PEAK_RSS_MB = 256;
const root = resolve(import.meta.dirname, '..');
const DAY = 86_400_000;

/**
 * Runs the agent once; `ms` is the whole run, `syncMs` the part before it tested nginx's
 * configuration (download, verify, install), read from a timestamp the test command writes first.
 */
function runAgent(args: string[], testedAt: string): { ms: number; syncMs: number | null; maxRssMb: number; stdout: string; code: number | null } {
  rmSync(testedAt, { force: true });
  const started = Date.now();
  const probe = `process.on('exit', () => process.stderr.write('\\nMAXRSS ' + process.resourceUsage().maxRSS + '\\n')); require(${JSON.stringify(join(root, 'dist', 'sync-agent.js'))});`;
  const result = spawnSync('node', ['-e', probe, 'agent', ...args], { encoding: 'utf8', env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }, maxBuffer: 64 << 20 });
  const ms = Date.now() - started;
  const maxRss = Number(/MAXRSS (\d+)/.exec(result.stderr)?.[1] ?? 0) / 1024;
  const tested = existsSync(testedAt) ? Number(readFileSync(testedAt, 'utf8').trim()) : null;
  return { ms, syncMs: tested === null ? null : tested - started, maxRssMb: Math.round(maxRss), stdout: result.stdout, code: result.status };
}

async function main(): Promise<void> {
  const parts = (process.env.BENCH_ONLY ?? 'coldstart,idle,agent,faults,status').split(',');
  const unknown = parts.filter((part) => !['coldstart', 'idle', 'agent', 'faults', 'status'].includes(part));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: no part named ${unknown.join(', ')} (the parts: coldstart, idle, agent, faults, status)`);
  if (parts.length === 1 && parts[0] === 'coldstart') {
    spawnSync('node', ['scripts/build.mjs'], { cwd: root, stdio: 'ignore' });
    process.exitCode = coldStartBench(root) ? 1 : 0;
    return;
  }
  const startedReplica = !findReplicaState();
  if (startedReplica) spawnSync('node', ['--import', 'tsx', 'scripts/replica.ts', 'start'], { cwd: root, stdio: 'inherit' });
  spawnSync('node', ['scripts/build.mjs'], { cwd: root, stdio: 'ignore' });
  let failed = false;
  try {
    if (parts.includes('coldstart')) failed = coldStartBench(root) || failed;
    if (parts.includes('idle')) failed = (await idleBench(readReplicaState())) || failed;
    if (parts.includes('agent')) failed = (await agentBench(readReplicaState())) || failed;
    if (parts.includes('faults')) failed = (await faultBench(readReplicaState())) || failed;
    if (parts.includes('status')) failed = (await statusBench(readReplicaState())) || failed;
  } finally {
    if (startedReplica) spawnSync('node', ['--import', 'tsx', 'scripts/replica.ts', 'stop'], { cwd: root, stdio: 'inherit' });
  }
  process.exitCode = failed ? 1 : 0;
}

/** The host sync agent at 1000 domains; returns true when a target was missed. */
async function agentBench(state: ReplicaState): Promise<boolean> {
  console.log(`\n== the host sync agent, ${DOMAINS} domains ==`);
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  let failed = false;
  try {
    const s3 = replicaS3Client(state);
    const bucket = `bench-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const ca = issue({ commonName: 'Bench Root', ca: true, key: newKey(), notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 400 * DAY) });
    writeFileSync(join(work, 'root.pem'), ca.pem);
    // One key for every leaf: the bench measures the sync, not key generation.
    const leafKey = newKey();
    const plant = async (domain: string, days: number) => {
      const chain = issue({ commonName: domain, names: [domain, `www.${domain}`], ca: false, key: leafKey, issuer: ca, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + days * DAY) }).pem;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${domain}/domain.key`, Body: Buffer.from(leafKey.pem) }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${domain}/domain.crt`, Body: Buffer.from(chain) }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${domain}/status.json`, Body: Buffer.from(JSON.stringify({ domain, files: { 'domain.crt': sha256(chain), 'domain.key': sha256(leafKey.pem) } })) }));
    };
    const domains = Array.from({ length: DOMAINS }, (_, i) => `site${String(i).padStart(4, '0')}.bench.test`);
    const t = Date.now();
    await mapWithConcurrency(domains, 16, (domain) => plant(domain, 90));
    console.log(`planted ${DOMAINS} domains (${DOMAINS * 3} objects) in ${Date.now() - t} ms`);

    const baseline = awsSyncBaseline(bucket, state.awsEndpoint, state.region, join(work, 'aws-sync'));
    console.log(baseline.measured ? `baseline aws s3 sync (same bucket, same machine, now): first ${baseline.firstSyncMs} ms, no-change ${baseline.noChangeMs} ms` : 'aws CLI not installed: targets from LOCAL-STACK.md');

    // A host with one server block per domain, under s6 like the replica's nginx.
    const nginx = await startNginxInstance(join(work, 'nginx'), state);
    try {
      for (const domain of domains) nginx.addSite(domain);
      // The real nginx -T, after a timestamp: the part of a run before it is the download, verify and install.
      const testedAt = join(work, 'tested-at');
      const testCommand = join(work, 'nginx-test');
      writeFileSync(testCommand, `#!/bin/sh\ndate +%s%3N > ${testedAt}\nexec nginx -T -q -c ${nginx.confFile}\n`, { mode: 0o755 });
      const args = ['--bucket', bucket, '--endpoint', state.awsEndpoint, '--region', state.region, '--certs-dir', nginx.certsDir, '--state-file', join(work, 'state.json'),
        '--lock-file', join(work, 'agent.lock'), '--trusted-roots-file', join(work, 'root.pem'), '--test-command', testCommand, '--nginx-conf', nginx.confFile,
        '--reload-command', `s6-svc -h ${nginx.serviceDir}`, '--tls-address', `127.0.0.1:${nginx.httpsPort}`, '--concurrency', '16'];
      const first = runAgent(args, testedAt);
      const unchanged = runAgent(args, testedAt);
      await mapWithConcurrency(domains.slice(0, 10), 10, (domain) => plant(domain, 91));
      const ten = runAgent(args, testedAt);

      const rows: [string, number, number | null, string][] = [
        ['first sync, whole run (ms)', first.ms, null, first.stdout.trim().split('\n').pop() ?? ''],
        ['  of it before nginx -T', first.syncMs ?? first.ms, baseline.firstSyncMs, 'download, verify, install 1000 pairs'],
        ['no-change sync (ms)', unchanged.ms, baseline.noChangeMs, unchanged.stdout.trim() === '' ? '(quiet; nginx not run)' : unchanged.stdout.trim()],
        ['10 renewed, whole run (ms)', ten.ms, null, ten.stdout.trim().split('\n').pop() ?? ''],
        ['  of it before nginx -T', ten.syncMs ?? ten.ms, unchanged.ms + 1000, 'target: the no-change time + 1 s'],
        ['peak RSS (MB)', Math.max(first.maxRssMb, unchanged.maxRssMb, ten.maxRssMb), PEAK_RSS_MB, ''],
      ];
      for (const [name, value, target, note] of rows) {
        const ok = target === null || value <= target;
        failed ||= !ok;
        console.log(`${ok ? 'ok  ' : 'MISS'} ${name.padEnd(28)} ${String(value).padStart(7)}  ${target === null ? '(shown)   ' : `target ≤ ${target}`}  ${note}`);
      }
      for (const run of [first, unchanged, ten]) {
        if (run.code === 0) continue;
        failed = true;
        console.log(`MISS an agent run exited ${run.code}: ${run.stdout.split('\n').slice(0, 3).join(' | ')}`);
      }
    } finally {
      await nginx.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return failed;
}

/** Times `aws s3 sync` of the bucket into an empty directory, then again with nothing changed. */
function awsSyncBaseline(bucket: string, endpoint: string, region: string, dir: string): { measured: boolean; firstSyncMs: number; noChangeMs: number } {
  if (spawnSync('aws', ['--version']).status !== 0) return { measured: false, ...FALLBACK_BASELINE };
  const sync = () => {
    const started = Date.now();
    const result = spawnSync('aws', ['s3', 'sync', `s3://${bucket}`, dir, '--endpoint-url', endpoint, '--only-show-errors'], { env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: region } });
    if (result.status !== 0) throw new Error(`aws s3 sync failed: ${result.stderr}`);
    return Date.now() - started;
  };
  return { measured: true, firstSyncMs: sync(), noChangeMs: sync() };
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
