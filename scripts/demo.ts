/**
 * The demo: starts the local replica, creates three domains, invokes `renew` through the
 * Serverless Framework, syncs the certificates to nginx with the host agent, fetches each site over
 * TLS with SNI, and stops the replica. Each step's title carries the seconds since the start, and a
 * command that runs quietly is said to be still running every 10 s.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'node:https';
import { PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { replicaS3Client } from './replica/provision.js';
import { renewEnvironment } from './replica/renew-env.js';
import { writeSite } from './replica/sites.js';
import { readReplicaState, type ReplicaState } from './replica/state.js';

const root = resolve(import.meta.dirname, '..');
const DOMAINS = ['example.test', 'shop.example.test', 'blog.test'];
const began = Date.now();
const seconds = (since: number): string => ((Date.now() - since) / 1000).toFixed(1);

function step(title: string): void {
  console.log(`\n== ${title} (${seconds(began)} s)`);
}

/**
 * Runs a command and returns its stdout. Its output is shown indented as it comes (with `quiet`,
 * only when it fails); after 8 s without a line, a line says it is still running.
 */
async function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, quiet = false): Promise<string> {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  const started = Date.now();
  let lastLine = started;
  let stdout = '';
  let all = '';
  // Whole lines only, so that lines of the two streams never interleave mid-line.
  const pending = { stdout: '', stderr: '' };
  const show = (stream: keyof typeof pending, chunk: string): void => {
    all += chunk;
    if (stream === 'stdout') stdout += chunk;
    const text = pending[stream] + chunk;
    const end = text.lastIndexOf('\n') + 1;
    pending[stream] = text.slice(end);
    if (quiet || end === 0) return;
    process.stdout.write(indent(text.slice(0, end)));
    lastLine = Date.now();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => show('stdout', chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => show('stderr', chunk));
  const ticker = setInterval(() => {
    if (Date.now() - lastLine < 8_000) return;
    console.log(`   (still running ${[command, ...args].join(' ').slice(0, 80)}: ${seconds(started)} s)`);
    lastLine = Date.now();
  }, 1_000);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolveExit, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode, exitSignal) => resolveExit([exitCode, exitSignal]));
    });
    if (!quiet) process.stdout.write(indent(`${pending.stdout}\n${pending.stderr}`));
    if (code !== 0) {
      if (quiet) process.stdout.write(indent(all));
      throw new Error(`${command} ${args.join(' ')} ${signal ? `was stopped by ${signal}` : `exited ${code}`}`);
    }
    return stdout;
  } finally {
    clearInterval(ticker);
  }
}

function indent(text: string): string {
  return text.split('\n').filter(Boolean).map((line) => `   ${line}\n`).join('');
}

async function main(): Promise<void> {
  step('Starting the local replica (moto, Pebble + DNS, nginx under s6)');
  await run('node', ['--import', 'tsx', 'scripts/replica.ts', 'start'], { ...process.env, PEBBLE_WFE_NONCEREJECT: process.env.PEBBLE_WFE_NONCEREJECT ?? '5' });
  const state = readReplicaState();
  try {
    await demo(state);
  } finally {
    step('Stopping the local replica');
    await run('node', ['--import', 'tsx', 'scripts/replica.ts', 'stop']);
  }
}

async function demo(state: ReplicaState): Promise<void> {
  const s3 = replicaS3Client(state);
  const pebbleRoot = readFileSync(state.acme.rootsFile, 'utf8');
  const work = mkdtempSync(join(tmpdir(), 'acme-demo-'));
  try {
    await demoIn(work, state, s3, pebbleRoot);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function demoIn(work: string, state: ReplicaState, s3: ReturnType<typeof replicaS3Client>, pebbleRoot: string): Promise<void> {
  const rootsFile = join(work, 'pebble-root.pem');
  writeFileSync(rootsFile, pebbleRoot);

  step(`Creating three domain folders in s3://${state.buckets.certificates}/ and their nginx sites`);
  for (const domain of DOMAINS) {
    await s3.send(new PutObjectCommand({ Bucket: state.buckets.certificates, Key: `${domain}/`, Body: new Uint8Array(0) }));
    writeSite(state.nginx, domain);
    console.log(`   ${domain}/`);
  }

  const agent = (extra: string[] = []): Promise<string> =>
    run('node', [
      'dist/sync-agent.js', '--bucket', state.buckets.certificates, '--endpoint', state.awsEndpoint, '--region', state.region,
      '--certs-dir', state.nginx.certsDir, '--state-file', join(work, 'agent-state.json'), '--nginx-conf', state.nginx.confFile,
      '--reload-command', `s6-svc -h ${state.nginx.serviceDir}`, '--tls-address', `127.0.0.1:${state.nginx.httpsPort}`,
      '--trusted-roots-file', rootsFile, '--lock-file', join(work, 'acme-sync.lock'), ...extra,
    ], { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });

  step('Host agent, first run: self-signed placeholders so nginx can serve before the first certificate');
  await run('node', ['scripts/build.mjs'], process.env, true);
  await agent();

  step('serverless invoke local -f renew (the scheduled run: renews everything that is due)');
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: state.awsEndpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: state.region, AWS_EC2_METADATA_DISABLED: 'true',
    NODE_EXTRA_CA_CERTS: state.acme.apiCaFile, SLS_TELEMETRY_DISABLED: '1',
    ...renewEnvironment(state),
  };
  const output = await run('npx', ['serverless', 'invoke', 'local', '-f', 'renew', '--stage', 'local', '--data', '{}'], env, true);
  const report = parseReport(output);
  printTable(report.outcomes);

  step('Host agent, second run: verifies, installs atomically, nginx -t, s6-svc -h, confirms the served serials');
  await agent();

  step('Fetching each site over HTTPS with SNI (trusting only Pebble\'s root)');
  for (const domain of DOMAINS) {
    const status = JSON.parse(await text(s3, state.buckets.certificates, `${domain}/status.json`)) as { serial: string };
    const served = await fetchSite(state, domain, pebbleRoot);
    console.log(`   https://${domain}/ -> ${JSON.stringify(served.body.trim())}; served serial ${served.serial}; bucket serial ${status.serial}: ${served.serial === status.serial ? 'match' : 'MISMATCH'}`);
    if (served.serial !== status.serial) process.exitCode = 1;
  }

  step('Host agent, third run: nothing changed, so it prints nothing and does not reload');
  const quiet = await agent();
  console.log(quiet.trim() === '' ? '   (no output)' : quiet);
}

interface Outcome { domain: string; outcome: string; names?: string[]; serial?: string | null; notAfter?: string | null; reason: string }

/** The handler's return value is the last JSON document `invoke local` prints, after the log lines. */
function parseReport(output: string): { outcomes: Outcome[] } {
  const start = output.lastIndexOf('\n{\n');
  return (JSON.parse(output.slice(start >= 0 ? start : output.indexOf('{'))) as { run: { outcomes: Outcome[] } }).run;
}

function printTable(outcomes: Outcome[]): void {
  const rows = [['domain', 'names', 'serial', 'not after', 'outcome'], ...outcomes.map((item) => [item.domain, (item.names ?? []).join(' '), item.serial ?? '-', item.notAfter ?? '-', item.outcome])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const [index, row] of rows.entries()) {
    console.log(`   ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`);
    if (index === 0) console.log(`   ${widths.map((width) => '-'.repeat(width)).join('  ')}`);
  }
}

async function text(s3: ReturnType<typeof replicaS3Client>, bucket: string, key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString()) ?? '';
}

function fetchSite(state: ReplicaState, domain: string, ca: string): Promise<{ body: string; serial: string }> {
  return new Promise((resolveFetch, reject) => {
    const req = request({ host: '127.0.0.1', port: state.nginx.httpsPort, servername: domain, headers: { host: domain }, path: '/', ca, agent: false }, (response) => {
      const certificate = (response.socket as import('node:tls').TLSSocket).getPeerCertificate();
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolveFetch({ body, serial: certificate.serialNumber.toLowerCase() }));
    });
    req.on('error', reject);
    req.end();
  });
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
