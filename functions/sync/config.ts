/**
 * The host agent's command line: `sync` (the default) with flags, each with an environment
 * fallback; `render` to fill in a host template; `--help` and `--version`. A missing or malformed
 * value stops the agent before it touches anything, naming the flag.
 */

import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { splitCommand } from '../adapters/command-runner.js';
import type { FileOwner } from '../adapters/host-cert-files.js';
import { domainNameProblem, printable } from '../core/domain-name.js';
import { ConfigurationError } from '../core/errors.js';
import { templateNames } from '../core/host-templates.js';
import { rootsFromPem, selectRootsByName } from '../core/trust.js';

export interface AgentConfig {
  bucket: string;
  region: string;
  endpoint: string | undefined;
  certsDir: string;
  stateFile: string;
  lockFile: string;
  testCommand: string[];
  /** nginx's configuration directory: relative paths in nginx -T's dump resolve against it. */
  nginxConfDir: string;
  reloadCommand: string[];
  tls: { host: string; port: number };
  owner: FileOwner | null;
  trustedRoots: string[];
  /** Only these domains (`--domains`, `--domains-file`); null: every domain in the bucket. */
  domains: string[] | null;
  prune: boolean;
  /** A full listing of the bucket at least this often; between them the manifest says what changed (0: every run lists in full). */
  fullListingEveryMs: number;
  mode: 'reload' | 'install-only';
  /** Seconds between runs in loop mode (`--interval`, a container service); null: one run. */
  intervalSeconds: number | null;
  concurrency: number;
  servedCheckTimeoutMs: number;
  /** How far a certificate's notBefore may lie ahead of this host's clock. */
  skewAllowanceMs: number;
}

export type AgentCommand =
  | { command: 'help'; text: string }
  | { command: 'render-help'; template: string }
  | { command: 'version' }
  | { command: 'sync'; config: AgentConfig }
  | { command: 'render'; template: string; output: string | null; values: Record<string, string> };

export const USAGE = `usage: node sync-agent.js [sync] [options]     make nginx serve the bucket's certificates
       node sync-agent.js render TEMPLATE [--output FILE] [NAME=VALUE ...]
       node sync-agent.js --help | --version

sync options (each also read from the environment variable in parentheses):
  --bucket NAME             certificates bucket (CERTIFICATES_BUCKET)              required
  --region REGION           AWS region (AWS_REGION)                               default us-east-1
  --endpoint URL            S3 endpoint, for S3-compatible stores (AWS_ENDPOINT_URL)
  --domains A,B,...         sync only these domains; others are neither downloaded,
                            installed nor reported (SYNC_DOMAINS)                 default: every domain
  --domains-file FILE       the same, one domain per line, # comments (SYNC_DOMAINS_FILE)
  --certs-dir DIR           where nginx reads certificates (CERTS_DIR)            default /etc/nginx/certs
  --state-file FILE         the agent's memory (STATE_FILE)                       default /var/lib/acme-sync/state.json
  --lock-file FILE          held while a run works, in a tmpfs (LOCK_FILE)        default /run/acme-sync.lock
  --nginx-conf FILE         nginx configuration to test (NGINX_CONF)              default /etc/nginx/nginx.conf
  --test-command CMD        overrides "nginx -T -q -c <nginx-conf>" (NGINX_TEST_COMMAND); without
                            nginx -T's configuration dump, --prune removes nothing and every pair
                            counts as used by nginx
  --reload-command CMD      (RELOAD_COMMAND)                                      default "s6-svc -h /service/nginx"
  --tls-address HOST:PORT   where nginx serves TLS, to confirm new serials (TLS_ADDRESS) default 127.0.0.1:443
  --owner USER:GROUP        owner of installed files (CERT_OWNER)                 default: the agent's user
  --trusted-roots NAMES     root CAs by common name (TRUSTED_ROOTS)               default "ISRG Root X1,ISRG Root X2"
  --trusted-roots-file FILE root CAs as PEM, instead of names (TRUSTED_ROOTS_FILE)
  --prune                   remove domains that left the bucket (or --domains), unless nginx still uses them
  --full-listing-every TIME list the whole bucket at least this often (30m, 6h, 1d; 0: every run);
                            between listings a run reads only the manifest the renew function
                            writes, with one conditional GET (FULL_LISTING_EVERY) default 6h
  --install-only            nginx is not running yet (a container starting): install, do not test,
                            reload or record; the next run confirms
  --interval SECONDS        run again every SECONDS until stopped (a container's service); SIGHUP
                            runs at once
  --concurrency N           parallel downloads (CONCURRENCY)                      default 8
  --served-check-seconds N  how long to wait for nginx to serve a new serial (SERVED_CHECK_SECONDS) default 10
  --clock-skew-seconds N    how far a certificate's start may lie ahead of this host's clock
                            (CLOCK_SKEW_ALLOWANCE_SECONDS)                        default 3600

render: fills in one of ${templateNames().join(', ')}
  (node sync-agent.js render TEMPLATE --help lists its values and their defaults)

Exit status: 0 in order, 1 a domain or the reload failed, 2 bad configuration or usage.`;

const SYNC_OPTIONS = {
  bucket: { type: 'string' }, region: { type: 'string' }, endpoint: { type: 'string' }, domains: { type: 'string' }, 'domains-file': { type: 'string' },
  'certs-dir': { type: 'string' }, 'state-file': { type: 'string' }, 'lock-file': { type: 'string' }, 'nginx-conf': { type: 'string' }, 'test-command': { type: 'string' },
  'reload-command': { type: 'string' }, 'tls-address': { type: 'string' }, owner: { type: 'string' }, 'trusted-roots': { type: 'string' }, 'trusted-roots-file': { type: 'string' },
  prune: { type: 'boolean' }, 'full-listing-every': { type: 'string' }, 'install-only': { type: 'boolean' }, interval: { type: 'string' }, concurrency: { type: 'string' }, 'served-check-seconds': { type: 'string' },
  'clock-skew-seconds': { type: 'string' },
  help: { type: 'boolean' }, version: { type: 'boolean' },
} as const;

/** Returns the command `argv` asks for; throws ConfigurationError naming the bad flag or value. */
export function readAgentCommand(argv: string[], env: NodeJS.ProcessEnv, rootStore: readonly string[]): AgentCommand {
  if (argv[0] === 'render') return readRenderCommand(argv.slice(1));
  const args = argv[0] === 'sync' ? argv.slice(1) : argv;
  let parsed;
  try {
    parsed = parseArgs({ args, strict: true, allowPositionals: false, options: SYNC_OPTIONS }).values;
  } catch (error) {
    throw new ConfigurationError(`${(error as Error).message} (see node sync-agent.js --help)`);
  }
  if (parsed.help) return { command: 'help', text: USAGE };
  if (parsed.version) return { command: 'version' };
  return { command: 'sync', config: syncConfig(parsed, env, rootStore) };
}

function syncConfig(parsed: { [K in keyof typeof SYNC_OPTIONS]?: string | boolean }, env: NodeJS.ProcessEnv, rootStore: readonly string[]): AgentConfig {
  const value = (flag: keyof typeof SYNC_OPTIONS, variable: string): string | undefined => {
    const given = parsed[flag];
    return (typeof given === 'string' ? given : env[variable])?.trim() || undefined;
  };
  const integer = (flag: keyof typeof SYNC_OPTIONS, variable: string, fallback: number, min: number, max: number): number => {
    const text = value(flag, variable);
    const number = Number(text ?? fallback);
    if (!Number.isInteger(number) || number < min || number > max) throw new ConfigurationError(`--${flag} "${printable(text ?? '')}" must be an integer from ${min} to ${max}`);
    return number;
  };
  const bucket = value('bucket', 'CERTIFICATES_BUCKET');
  if (!bucket) throw new ConfigurationError('--bucket (or CERTIFICATES_BUCKET) is required (see node sync-agent.js --help)');
  const nginxConf = value('nginx-conf', 'NGINX_CONF') ?? '/etc/nginx/nginx.conf';
  const interval = typeof parsed.interval === 'string' ? parsed.interval : undefined;
  return {
    bucket,
    region: value('region', 'AWS_REGION') ?? 'us-east-1',
    endpoint: value('endpoint', 'AWS_ENDPOINT_URL'),
    certsDir: value('certs-dir', 'CERTS_DIR') ?? '/etc/nginx/certs',
    stateFile: value('state-file', 'STATE_FILE') ?? '/var/lib/acme-sync/state.json',
    lockFile: value('lock-file', 'LOCK_FILE') ?? '/run/acme-sync.lock',
    testCommand: splitCommand(value('test-command', 'NGINX_TEST_COMMAND') ?? `nginx -T -q -c ${nginxConf}`),
    nginxConfDir: dirname(nginxConf),
    reloadCommand: splitCommand(value('reload-command', 'RELOAD_COMMAND') ?? 's6-svc -h /service/nginx'),
    tls: parseAddress(value('tls-address', 'TLS_ADDRESS') ?? '127.0.0.1:443'),
    owner: parseOwner(value('owner', 'CERT_OWNER')),
    trustedRoots: readRoots(value('trusted-roots-file', 'TRUSTED_ROOTS_FILE'), value('trusted-roots', 'TRUSTED_ROOTS'), rootStore),
    domains: readDomains(value('domains', 'SYNC_DOMAINS'), value('domains-file', 'SYNC_DOMAINS_FILE')),
    prune: parsed.prune === true,
    fullListingEveryMs: parseDuration('full-listing-every', value('full-listing-every', 'FULL_LISTING_EVERY') ?? '6h', 7 * 86_400_000),
    mode: parsed['install-only'] === true ? 'install-only' : 'reload',
    intervalSeconds: interval === undefined ? null : integer('interval', '', 3600, 60, 86_400),
    concurrency: integer('concurrency', 'CONCURRENCY', 8, 1, 64),
    servedCheckTimeoutMs: integer('served-check-seconds', 'SERVED_CHECK_SECONDS', 10, 1, 300) * 1000,
    skewAllowanceMs: integer('clock-skew-seconds', 'CLOCK_SKEW_ALLOWANCE_SECONDS', 3600, 0, 86_400) * 1000,
  };
}

/** `render TEMPLATE [--output FILE] NAME=VALUE...`; `render TEMPLATE --help` lists the values. */
function readRenderCommand(argv: string[]): AgentCommand {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { output: { type: 'string' }, help: { type: 'boolean' } } });
  } catch (error) {
    throw new ConfigurationError(`render: ${(error as Error).message} (usage: node sync-agent.js render TEMPLATE [--output FILE] NAME=VALUE ...)`);
  }
  const [template, ...assignments] = parsed.positionals;
  if (!template) throw new ConfigurationError(`render: which template? (one of ${templateNames().join(', ')})`);
  if (parsed.values.help) return { command: 'render-help', template };
  const values: Record<string, string> = {};
  for (const assignment of assignments) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(assignment);
    if (!match) throw new ConfigurationError(`render: "${printable(assignment)}" is not NAME=VALUE`);
    const [, name, given] = match as unknown as [string, string, string];
    if (name in values) throw new ConfigurationError(`render: ${name} is given twice`);
    values[name] = given;
  }
  return { command: 'render', template, output: parsed.values.output ?? null, values };
}

/** Returns the domains of `--domains` and `--domains-file` together, each checked; null when neither is given. */
function readDomains(list: string | undefined, file: string | undefined): string[] | null {
  if (list === undefined && file === undefined) return null;
  const names: string[] = [];
  if (list !== undefined) names.push(...list.split(/[\s,]+/).filter(Boolean).map((name) => ({ name, where: '--domains' })).map(checkedDomain));
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigurationError(`--domains-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    text.split('\n').forEach((line, index) => {
      const name = line.replace(/#.*/, '').trim();
      if (name) names.push(checkedDomain({ name, where: `--domains-file ${file} line ${index + 1}` }));
    });
  }
  if (names.length === 0) throw new ConfigurationError('--domains: no domain given');
  return [...new Set(names)].sort();
}

function checkedDomain({ name, where }: { name: string; where: string }): string {
  const problem = domainNameProblem(name);
  if (problem) throw new ConfigurationError(`${where}: "${printable(name)}" is not a domain name: ${problem}`);
  return name;
}

/** Returns a duration (`90s`, `30m`, `6h`, `1d`; a bare number is seconds) in milliseconds, at most `maxMs`. */
function parseDuration(flag: string, text: string, maxMs: number): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text);
  const unitMs = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match?.[2] ?? ''] ?? 1000;
  const ms = Number(match?.[1]) * unitMs;
  if (!match || !(ms <= maxMs)) throw new ConfigurationError(`--${flag} "${printable(text)}" must be a duration such as 30m, 6h or 1d (0: every run), at most ${maxMs / 86_400_000}d`);
  return ms;
}

function parseAddress(text: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new ConfigurationError(`--tls-address "${printable(text)}" must be HOST:PORT`);
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}

function readRoots(file: string | undefined, names: string | undefined, rootStore: readonly string[]): string[] {
  try {
    if (file) return rootsFromPem(readFileSync(file, 'utf8'));
    return selectRootsByName(rootStore, (names ?? 'ISRG Root X1,ISRG Root X2').split(',').map((name) => name.trim()).filter(Boolean));
  } catch (error) {
    throw new ConfigurationError(`${file ? '--trusted-roots-file' : '--trusted-roots'}: ${(error as Error).message}`);
  }
}

/** Resolves USER:GROUP (names or numbers) through /etc/passwd and /etc/group. */
function parseOwner(text: string | undefined): FileOwner | null {
  if (!text) return null;
  const [user, group] = text.split(':');
  if (!user || !group) throw new ConfigurationError(`--owner "${printable(text)}" must be USER:GROUP`);
  return { uid: lookupId(user, '/etc/passwd'), gid: lookupId(group, '/etc/group') };
}

function lookupId(name: string, database: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const line = readFileSync(database, 'utf8').split('\n').find((entry) => entry.split(':')[0] === name);
  const id = Number(line?.split(':')[2]);
  if (!line || !Number.isInteger(id)) throw new ConfigurationError(`--owner: "${printable(name)}" is not in ${database}`);
  return id;
}
