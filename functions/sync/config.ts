/**
 * The host agent's configuration: command-line flags, each with an environment fallback.
 * A missing or malformed value stops the agent before it touches anything, naming the flag.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { splitCommand } from '../adapters/command-runner.js';
import type { FileOwner } from '../adapters/host-cert-files.js';
import { ConfigurationError } from '../core/errors.js';
import { rootsFromPem, selectRootsByName } from '../core/trust.js';

export interface AgentConfig {
  bucket: string;
  region: string;
  endpoint: string | undefined;
  certsDir: string;
  stateFile: string;
  lockFile: string;
  testCommand: string[];
  reloadCommand: string[];
  tls: { host: string; port: number };
  owner: FileOwner | null;
  trustedRoots: string[];
  prune: boolean;
  concurrency: number;
  servedCheckTimeoutMs: number;
}

export const USAGE = `usage: node sync-agent.js [options]
  --bucket NAME             certificates bucket (env CERTIFICATES_BUCKET)            required
  --region REGION           AWS region (env AWS_REGION)                             default us-east-1
  --endpoint URL            S3 endpoint, for S3-compatible stores (env AWS_ENDPOINT_URL)
  --certs-dir DIR           where nginx reads certificates (env CERTS_DIR)          default /etc/nginx/certs
  --state-file FILE         the agent's memory (env STATE_FILE)                     default /var/lib/acme-sync/state.json
  --lock-file FILE          held while a run works, in a tmpfs (env LOCK_FILE)      default /run/acme-sync.lock
  --nginx-conf FILE         nginx configuration to test (env NGINX_CONF)            default /etc/nginx/nginx.conf
  --test-command CMD        overrides "nginx -t -q -c <nginx-conf>" (env NGINX_TEST_COMMAND)
  --reload-command CMD      (env RELOAD_COMMAND)                                    default "s6-svc -h /service/nginx"
  --tls-address HOST:PORT   where nginx serves TLS, to confirm new serials (env TLS_ADDRESS) default 127.0.0.1:443
  --owner USER:GROUP        owner of installed files (env CERT_OWNER)               default: the agent's user
  --trusted-roots NAMES     root CAs by common name (env TRUSTED_ROOTS)             default "ISRG Root X1,ISRG Root X2"
  --trusted-roots-file FILE root CAs as PEM, instead of names (env TRUSTED_ROOTS_FILE)
  --prune                   remove domains that are no longer in the bucket
  --concurrency N           parallel downloads (env CONCURRENCY)                    default 8
  --served-check-seconds N  how long to wait for nginx to serve a new serial; 0 skips the check
                            (env SERVED_CHECK_SECONDS)                            default 10`;

/** Returns the configuration from `argv` and `env`; throws ConfigurationError naming the bad flag. */
export function readAgentConfig(argv: string[], env: NodeJS.ProcessEnv, rootStore: readonly string[]): AgentConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        bucket: { type: 'string' }, region: { type: 'string' }, endpoint: { type: 'string' }, 'certs-dir': { type: 'string' },
        'state-file': { type: 'string' }, 'lock-file': { type: 'string' }, 'nginx-conf': { type: 'string' }, 'test-command': { type: 'string' }, 'reload-command': { type: 'string' },
        'tls-address': { type: 'string' }, owner: { type: 'string' }, 'trusted-roots': { type: 'string' }, 'trusted-roots-file': { type: 'string' },
        prune: { type: 'boolean' }, concurrency: { type: 'string' }, 'served-check-seconds': { type: 'string' }, help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new ConfigurationError(`${(error as Error).message}\n${USAGE}`);
  }
  if (parsed.help) throw new ConfigurationError(USAGE);
  const value = (flag: keyof typeof parsed, variable: string): string | undefined => {
    const given = parsed[flag];
    return (typeof given === 'string' ? given : env[variable])?.trim() || undefined;
  };
  const bucket = value('bucket', 'CERTIFICATES_BUCKET');
  if (!bucket) throw new ConfigurationError(`--bucket (or CERTIFICATES_BUCKET) is required\n${USAGE}`);
  const nginxConf = value('nginx-conf', 'NGINX_CONF') ?? '/etc/nginx/nginx.conf';
  const concurrency = Number(value('concurrency', 'CONCURRENCY') ?? '8');
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new ConfigurationError('--concurrency must be an integer from 1 to 64');
  const servedCheckSeconds = Number(value('served-check-seconds', 'SERVED_CHECK_SECONDS') ?? '10');
  if (!Number.isInteger(servedCheckSeconds) || servedCheckSeconds < 0 || servedCheckSeconds > 300) throw new ConfigurationError('--served-check-seconds must be an integer from 0 to 300');
  return {
    bucket,
    region: value('region', 'AWS_REGION') ?? 'us-east-1',
    endpoint: value('endpoint', 'AWS_ENDPOINT_URL'),
    certsDir: value('certs-dir', 'CERTS_DIR') ?? '/etc/nginx/certs',
    stateFile: value('state-file', 'STATE_FILE') ?? '/var/lib/acme-sync/state.json',
    lockFile: value('lock-file', 'LOCK_FILE') ?? '/run/acme-sync.lock',
    testCommand: splitCommand(value('test-command', 'NGINX_TEST_COMMAND') ?? `nginx -t -q -c ${nginxConf}`),
    reloadCommand: splitCommand(value('reload-command', 'RELOAD_COMMAND') ?? 's6-svc -h /service/nginx'),
    tls: parseAddress(value('tls-address', 'TLS_ADDRESS') ?? '127.0.0.1:443'),
    owner: parseOwner(value('owner', 'CERT_OWNER')),
    trustedRoots: readRoots(value('trusted-roots-file', 'TRUSTED_ROOTS_FILE'), value('trusted-roots', 'TRUSTED_ROOTS'), rootStore),
    prune: parsed.prune === true,
    concurrency,
    servedCheckTimeoutMs: servedCheckSeconds * 1000,
  };
}

function parseAddress(text: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new ConfigurationError(`--tls-address "${text}" must be HOST:PORT`);
  return { host: match[1] as string, port };
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
  if (!user || !group) throw new ConfigurationError(`--owner "${text}" must be USER:GROUP`);
  return { uid: lookupId(user, '/etc/passwd'), gid: lookupId(group, '/etc/group') };
}

function lookupId(name: string, database: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const line = readFileSync(database, 'utf8').split('\n').find((entry) => entry.split(':')[0] === name);
  const id = Number(line?.split(':')[2]);
  if (!line || !Number.isInteger(id)) throw new ConfigurationError(`--owner: "${name}" is not in ${database}`);
  return id;
}
