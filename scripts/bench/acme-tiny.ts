/**
 * acme-tiny (Debian's package `acme-tiny`, 5.0.1) run the way the original update.sh runs it, one
 * domain at a time: openssl makes the domain key and a CSR for the domain and www.<domain>, then
 * `acme-tiny --account-key … --csr … --acme-dir …` writes the challenge files into a directory that
 * a web server serves at /.well-known/acme-challenge/ and prints the certificate.
 *
 * Two departures, both forced by the local replica: `--directory-url` names Pebble (or a proxy in
 * front of it), trusted through SSL_CERT_FILE (Pebble's throw-away API CA); and `--disable-check`,
 * because acme-tiny's self-check fetches http://<domain>/.well-known/acme-challenge/<token> through
 * the system resolver (its --check-port changes the port, not the resolver), and the bench's names
 * resolve only in the replica's DNS server, which Pebble uses. The check is one plain HTTP GET per
 * name that the project's preflight also makes, so leaving it out flatters acme-tiny a little.
 */

import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { pickFreePorts } from '../replica/ports.js';
import { startLogged, stopProcess, waitUntilReady, type ReplicaProcess } from '../replica/processes.js';

const run = promisify(execFile);

/** The domain key types the bench compares. */
export type TinyKeyType = 'ecdsa-p256' | 'rsa-2048';

const keyArguments: Record<TinyKeyType, string[]> = {
  'ecdsa-p256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'rsa-2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
};

/** Returns the installed acme-tiny's Debian version, e.g. `5.0.1-2`. */
export async function acmeTinyVersion(): Promise<string> {
  const { stdout } = await run('dpkg-query', ['-W', '-f', '${Version}', 'acme-tiny']);
  return stdout.trim();
}

/**
 * Writes an RSA-2048 account key to `file`, readable by its owner only. update.sh (and acme-tiny's
 * README) make 4096-bit keys, which cost acme-tiny about 0.4 s more a certificate here (it signs
 * each request with `openssl dgst`): the bench gives it the fastest key it can use (RSA only).
 */
export async function createAccountKey(file: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'rsa', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file]);
  chmodSync(file, 0o600);
}

export interface TinyIssue {
  domain: string;
  keyType: TinyKeyType;
  /** Where the domain's key, CSR and certificate are written. */
  dir: string;
  accountKey: string;
  challengeDir: string;
  directoryUrl: string;
  /** The CA certificate Pebble's HTTPS API (and its proxy) present. */
  apiCaFile: string;
}

/** What one acme-tiny issuance took: its three processes (key, CSR, acme-tiny), and whether the certificate came out right. */
export interface TinyResult {
  ms: number;
  ok: boolean;
  problem: string | null;
}

/** Makes the domain key and CSR and runs acme-tiny for `issue.domain`; never throws for a failed issuance. */
export async function issueWithAcmeTiny(issue: TinyIssue): Promise<TinyResult> {
  mkdirSync(issue.dir, { recursive: true, mode: 0o700 });
  const key = join(issue.dir, 'domain.key');
  const csr = join(issue.dir, 'domain.csr');
  const names = [issue.domain, `www.${issue.domain}`];
  const started = performance.now();
  let certificate: string;
  try {
    await run('openssl', ['genpkey', ...keyArguments[issue.keyType], '-out', key]);
    await run('openssl', ['req', '-new', '-sha256', '-key', key, '-subj', '/', '-addext', `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}`, '-out', csr]);
    const { stdout } = await run(
      'acme-tiny',
      ['--account-key', issue.accountKey, '--csr', csr, '--acme-dir', issue.challengeDir, '--directory-url', issue.directoryUrl, '--disable-check'],
      { env: { ...process.env, SSL_CERT_FILE: issue.apiCaFile, no_proxy: '127.0.0.1' }, timeout: 600_000, maxBuffer: 16 << 20 },
    );
    certificate = stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split('\n');
    return { ms: performance.now() - started, ok: false, problem: `${issue.domain}: ${stderr.slice(-1)[0]?.slice(0, 300) ?? 'failed'}` };
  }
  const ms = performance.now() - started;
  writeFileSync(join(issue.dir, 'signed.crt'), certificate);
  return { ms, ok: true, problem: null, ...certificateProblem(issue.domain, names, certificate) };
}

/** Returns a failed result's fields when the certificate acme-tiny printed does not cover `names`. */
function certificateProblem(domain: string, names: string[], pem: string): Partial<TinyResult> {
  try {
    const leaf = new X509Certificate(pem);
    const covered = (leaf.subjectAltName ?? '').split(', ').map((entry) => entry.replace(/^DNS:/, ''));
    const missing = names.filter((name) => !covered.includes(name));
    return missing.length === 0 ? {} : { ok: false, problem: `${domain}: the certificate does not name ${missing.join(', ')}` };
  } catch (error) {
    return { ok: false, problem: `${domain}: acme-tiny printed no certificate (${(error as Error).message})` };
  }
}

/** A web server for acme-tiny's challenge directory: what update.sh's nginx does on port 80. */
export interface ChallengeServer {
  /** Where Pebble must validate HTTP-01 (its httpPort). */
  httpPort: number;
  /** acme-tiny's --acme-dir. */
  challengeDir: string;
  /** Stops nginx and removes the directory; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts an nginx (a plain process, not under s6) serving a fresh directory at
 * /.well-known/acme-challenge/ on a free loopback port; `dir` holds its configuration and log.
 */
export async function serveChallengeDirectory(dir: string): Promise<ChallengeServer> {
  // Apart from `dir` (mode 0700, beside the account key): nginx's workers must read the files.
  const challengeDir = mkdtempSync(join(tmpdir(), 'bench-acme-tiny-challenges-'));
  chmodSync(challengeDir, 0o755);
  const [httpPort] = (await pickFreePorts(1)) as [number];
  const confFile = join(dir, 'challenge-nginx.conf');
  const temp = join(dir, 'challenge-nginx-temp');
  writeFileSync(
    confFile,
    [
      'worker_processes 1;',
      `pid ${join(dir, 'challenge-nginx.pid')};`,
      'error_log stderr notice;',
      'events { worker_connections 256; }',
      'http {',
      '    access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${temp}-${kind};`),
      '    server {',
      `        listen 127.0.0.1:${httpPort};`,
      '        location /.well-known/acme-challenge/ {',
      `            alias ${challengeDir}/;`,
      '            default_type text/plain;',
      '        }',
      '        location / { return 404; }',
      '    }',
      '}',
      '',
    ].join('\n'),
  );
  const started: ReplicaProcess[] = [];
  const stop = async () => {
    for (const nginx of started) await stopProcess(nginx.pid, confFile);
    rmSync(challengeDir, { recursive: true, force: true });
  };
  try {
    const nginx = await startLogged('nginx', 'nginx', ['-e', 'stderr', '-c', confFile, '-g', 'daemon off;'], join(dir, 'challenge-nginx.log'), started);
    await waitUntilReady(nginx, `nginx on 127.0.0.1:${httpPort}`, async () => (await fetch(`http://127.0.0.1:${httpPort}/`)).status === 404);
  } catch (error) {
    await stop();
    throw error;
  }
  return { httpPort, challengeDir, stop };
}
