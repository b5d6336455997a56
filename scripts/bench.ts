/**
 * npm run bench: the parts below, each printing its figures next to their targets (BENCH_ONLY=
 * names the ones to run: BENCH_ONLY=issuance runs one, BENCH_ONLY=agent,status runs two):
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
 * - issuance (scripts/bench/issuance.ts): the project's issuance side by side with acme-tiny's on
 *   Pebble instances of their own, CPU-bound and latency-bound, 1 certificate as a whole process,
 *   the ACME requests per certificate, and at 50 % nonce rejection (about 20 minutes);
 * - awsclient (scripts/bench/aws-client.ts): one renewal's AWS requests from a fresh process
 *   through the function's SDK clients, through the same with lighter settings, and through
 *   aws-lite, a smaller client (no target: the figure behind the 1-certificate target);
 * - agent: the host sync agent at 1000 domains on the local replica (moto), against the
 * `aws s3 sync` baseline measured in the same run on the same bucket (when the aws CLI is
 * installed; otherwise against LOCAL-STACK.md's figures: first full sync ≈ 21 s, no-change ≈ 2.2 s).
 *
 * The agent runs as a real process against an nginx of its own with one server block per domain
 * (rendered from the site template), as a host with 1000 sites has: it tests nginx's configuration
 * (nginx -T), reloads it once and checks every new serial over TLS. The bucket has the manifest
 * the renew function writes at the end of a run (its own workflow, publish-manifest.ts), written
 * again after the 10 renewals, as the run that renews them would. Measured: the first sync (a full
 * listing, 3000 downloads, 1000 verifications and atomic installs, then nginx), a sync with nothing
 * changed (one conditional GET of the manifest, answered 304; no nginx at all), five times,
 * interleaved with `aws s3 sync` with nothing changed, medians; the S3 requests of one more
 * no-change sync, counted through a proxy in front of moto (not timed); a sync after 10 renewals
 * (seen through the manifest); and the peak RSS. Targets: the no-change sync at most 0.2× the
 * baseline's (5 times faster), reading one object (the manifest, 304) and listing nothing (its
 * other requests: STS and the host's report, written every run); the first sync's download,
 * verify and install part (its time up to the configuration test) no slower than the baseline,
 * which verifies nothing, installs nothing and leaves same-size renewals stale; 10 renewals within
 * the no-change time plus the nginx steps plus 1 s; peak RSS ≤ 256 MB. Exits non-zero when a
 * target is missed. The bucket is removed afterwards. Starts the replica when it is not running,
 * and then stops it.
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
import { fanOutBench } from './bench/fan-out.js';
import { issuanceBench } from './bench/issuance.js';
import { awsClientBench } from './bench/aws-client.js';

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
  const parts = (process.env.BENCH_ONLY ?? 'coldstart,idle,agent,faults,status,issuance,awsclient,fanout').split(',');
  const unknown = parts.filter((part) => !['coldstart', 'idle', 'agent', 'faults', 'status', 'issuance', 'awsclient', 'fanout'].includes(part));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: no part named ${unknown.join(', ')} (the parts: coldstart, idle, agent, faults, status, issuance, awsclient, fanout)`);
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
    // The replica's CA serves its API with a root of its own, which node trusts only when told at
    // start (NODE_EXTRA_CA_CERTS, as the tests run): the parts that renew in this process need it.
    const caFile = readReplicaState().acme.apiCaFile;
    if (process.env.NODE_EXTRA_CA_CERTS !== caFile) {
      failed = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile } }).status !== 0;
      process.exitCode = failed ? 1 : 0;
      return;
    }
    if (parts.includes('coldstart')) failed = coldStartBench(root) || failed;
    if (parts.includes('idle')) failed = (await idleBench(readReplicaState())) || failed;
    if (parts.includes('agent')) failed = (await agentBench(readReplicaState())) || failed;
    if (parts.includes('faults')) failed = (await faultBench(readReplicaState())) || failed;
    if (parts.includes('status')) failed = (await statusBench(readReplicaState())) || failed;
    if (parts.includes('issuance')) failed = (await issuanceBench(readReplicaState(), root)) || failed;
    if (parts.includes('awsclient')) failed = (await awsClientBench(readReplicaState(), root)) || failed;
    if (parts.includes('fanout')) failed = (await fanOutBench(readReplicaState())) || failed;
  } finally {
    if (startedReplica) spawnSync('node', ['--import', 'tsx', 'scripts/replica.ts', 'stop'], { cwd: root, stdio: 'inherit' });
  }
  process.exitCode = failed ? 1 : 0;
}

/** The host sync agent at 1000 domains; returns true when a target was missed. */
async function agentBench(state: ReplicaState): Promise<boolean> {
  console.log(`\n== the host sync agent, ${DOMAINS} domains ==`);
  // The renew function's own manifest workflow and adapters, the replica's proxy (to count
  // requests), the benches' bucket removal.
  const { publishManifest } = await import('../functions/workflows/publish-manifest.js');
  const { S3CertificateStore } = await import('../functions/adapters/s3-certificate-store.js');
  const { S3ConditionalObject } = await import('../functions/adapters/s3-conditional-object.js');
  const { MANIFEST_KEY } = await import('../functions/core/layout.js');
  const { startFaultProxy } = await import('./replica/fault-proxy.js');
  const { deleteBucket } = await import('./bench/bucket.js');
  const { spawn } = await import('node:child_process');
  const NO_CHANGE_RATIO = 0.2;
  const ROUNDS = 5;
  const work = mkdtempSync(join(tmpdir(), 'bench-'));
  const s3 = replicaS3Client(state);
  const bucket = `bench-${randomBytes(4).toString('hex')}`;
  let failed = false;
  try {
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
    // As the renew function does at the end of a run that changed the bucket.
    const writeManifest = async () => {
      const problem = await publishManifest({ store: new S3CertificateStore(s3, bucket), manifest: new S3ConditionalObject(s3, bucket, MANIFEST_KEY), log: () => undefined, now: () => new Date() }, null);
      if (problem) throw new Error(problem);
    };
    const domains = Array.from({ length: DOMAINS }, (_, i) => `site${String(i).padStart(4, '0')}.bench.test`);
    const t = Date.now();
    await mapWithConcurrency(domains, 16, (domain) => plant(domain, 90));
    await writeManifest();
    console.log(`planted ${DOMAINS} domains (${DOMAINS * 3} objects) and the manifest in ${Date.now() - t} ms`);

    const baseline = awsSyncBaseline(bucket, state.awsEndpoint, state.region, join(work, 'aws-sync'));
    console.log(baseline.measured ? `baseline aws s3 sync (same bucket, same machine, now): first ${baseline.firstSyncMs} ms` : 'aws CLI not installed: targets from LOCAL-STACK.md');

    // A host with one server block per domain, under s6 like the replica's nginx.
    const nginx = await startNginxInstance(join(work, 'nginx'), state);
    try {
      for (const domain of domains) nginx.addSite(domain);
      // The real nginx -T, after a timestamp: the part of a run before it is the download, verify and install.
      const testedAt = join(work, 'tested-at');
      const testCommand = join(work, 'nginx-test');
      writeFileSync(testCommand, `#!/bin/sh\ndate +%s%3N > ${testedAt}\nexec nginx -T -q -c ${nginx.confFile}\n`, { mode: 0o755 });
      const args = (endpoint: string) => ['--bucket', bucket, '--endpoint', endpoint, '--region', state.region, '--certs-dir', nginx.certsDir, '--state-file', join(work, 'state.json'),
        '--lock-file', join(work, 'agent.lock'), '--trusted-roots-file', join(work, 'root.pem'), '--test-command', testCommand, '--nginx-conf', nginx.confFile,
        '--reload-command', `s6-svc -h ${nginx.serviceDir}`, '--tls-address', `127.0.0.1:${nginx.httpsPort}`, '--concurrency', '16'];
      const first = runAgent(args(state.awsEndpoint), testedAt);
      // Nothing changed: the agent and aws s3 sync in turn, so that both meet the same machine.
      const unchangedRuns: ReturnType<typeof runAgent>[] = [];
      const awsNoChange: number[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        unchangedRuns.push(runAgent(args(state.awsEndpoint), testedAt));
        awsNoChange.push(baseline.noChange());
      }
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
      const unchanged = unchangedRuns.find((run) => run.ms === median(unchangedRuns.map((item) => item.ms))) as ReturnType<typeof runAgent>;
      const awsMs = median(awsNoChange);
      // One more, through a proxy in front of moto that only counts every request the run makes
      // (in this process: the agent is waited for without blocking it).
      const proxy = await startFaultProxy({ target: state.awsEndpoint, rules: [] });
      let counted: { code: number | null; stdout: string };
      try {
        const child = spawn(process.execPath, [join(root, 'dist', 'sync-agent.js'), ...args(proxy.url)], { env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }, stdio: ['ignore', 'pipe', 'ignore'] });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        counted = await new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
      } finally {
        await proxy.close();
      }
      const requests = proxy.log.map((entry) => `${entry.request.method} ${entry.request.service === 's3' ? decodeURIComponent(entry.request.path.split('?')[0] ?? '').replace(`/${bucket}/`, '') : entry.request.service} ${entry.status ?? '-'}`);
      const reads = proxy.log.filter((entry) => entry.request.service === 's3' && entry.request.method === 'GET');
      const manifestNotModified = reads.filter((entry) => entry.request.path.startsWith(`/${bucket}/.manifest.json`) && entry.status === 304).length;

      await mapWithConcurrency(domains.slice(0, 10), 10, (domain) => plant(domain, 91));
      await writeManifest();
      const ten = runAgent(args(state.awsEndpoint), testedAt);

      const ratio = unchanged.ms / awsMs;
      const rows: [string, number, number | null, string][] = [
        ['first sync, whole run (ms)', first.ms, null, first.stdout.trim().split('\n').pop() ?? ''],
        ['  of it before nginx -T', first.syncMs ?? first.ms, baseline.firstSyncMs, 'download, verify, install 1000 pairs'],
        [`no-change sync, median of ${ROUNDS} (ms)`, unchanged.ms, Math.floor(awsMs * NO_CHANGE_RATIO), `${ratio.toFixed(2)}× aws s3 sync's ${awsMs} ms (median of ${ROUNDS}: ${awsNoChange.join(', ')}; agent ${unchangedRuns.map((run) => run.ms).join(', ')}); target ≤ ${NO_CHANGE_RATIO}×${unchanged.stdout.trim() === '' ? ', quiet, nginx not run' : `; printed: ${unchanged.stdout.trim()}`}`],
        ['  its S3 reads: manifest 304', manifestNotModified, 1, `every read of the run must be that one; the run's requests: ${requests.join(', ')}`],
        ['  other S3 reads or listings', reads.length - manifestNotModified, 0, ''],
        ['10 renewed, whole run (ms)', ten.ms, null, ten.stdout.trim().split('\n').pop() ?? ''],
        ['  of it before nginx -T', ten.syncMs ?? ten.ms, unchanged.ms + 1000, 'target: the no-change time + 1 s'],
        ['peak RSS (MB)', Math.max(first.maxRssMb, ...unchangedRuns.map((run) => run.maxRssMb), ten.maxRssMb), PEAK_RSS_MB, ''],
      ];
      for (const [name, value, target, note] of rows) {
        const ok = target === null || (name.includes('manifest 304') ? value === target : value <= target);
        failed ||= !ok;
        console.log(`${ok ? 'ok  ' : 'MISS'} ${name.padEnd(34)} ${String(value).padStart(7)}  ${target === null ? '(shown)   ' : `target ${name.includes('manifest 304') ? '=' : '≤'} ${target}`}  ${note}`);
      }
      for (const run of [first, ...unchangedRuns, counted, ten]) {
        if (run.code === 0) continue;
        failed = true;
        console.log(`MISS an agent run exited ${run.code}: ${run.stdout.split('\n').slice(0, 3).join(' | ')}`);
      }
    } finally {
      await nginx.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    await deleteBucket(s3, bucket).catch((error: unknown) => console.log(`could not remove the bench bucket ${bucket}: ${error instanceof Error ? error.message : String(error)}`));
  }
  return failed;
}

/**
 * Times `aws s3 sync` of the bucket into an empty directory; `noChange` times it again, with
 * nothing changed (LOCAL-STACK.md's figures when the CLI is not installed).
 */
function awsSyncBaseline(bucket: string, endpoint: string, region: string, dir: string): { measured: boolean; firstSyncMs: number; noChange: () => number } {
  if (spawnSync('aws', ['--version']).status !== 0) return { measured: false, firstSyncMs: FALLBACK_BASELINE.firstSyncMs, noChange: () => FALLBACK_BASELINE.noChangeMs };
  const sync = () => {
    const started = Date.now();
    const result = spawnSync('aws', ['s3', 'sync', `s3://${bucket}`, dir, '--endpoint-url', endpoint, '--only-show-errors'], { env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: region } });
    if (result.status !== 0) throw new Error(`aws s3 sync failed: ${result.stderr}`);
    return Date.now() - started;
  };
  return { measured: true, firstSyncMs: sync(), noChange: sync };
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
