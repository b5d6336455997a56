import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { promisify } from 'node:util';
import { renderTemplate } from '../../functions/core/host-templates.js';
import { hostTemplates, replicaLayout } from './layout.js';
import { isRunning, startLogged, stopProcess, waitUntilReady, type ReplicaProcess } from './processes.js';

type NginxLayout = ReturnType<typeof replicaLayout>['nginx'];

export interface NginxSettings {
  httpPort: number;
  httpsPort: number;
  awsEndpoint: string;
  challengeBucket: string;
  /** host:port of a DNS server for nginx's run-time lookups. */
  resolver: string;
  /** Where challenges are proxied to; default the challenge bucket on the AWS endpoint, path-style. */
  challengeOrigin?: string;
  /** CA certificates nginx verifies an https origin with; default the template's (the system bundle). */
  caBundle?: string;
}

/**
 * Writes the replica's main nginx.conf (all runtime paths under the state directory) and renders the
 * committed port-80 challenge server and its locations into it, with the same renderer the agent's
 * `render` command uses. nginx loads certificates in the master (root), so the www-data workers
 * only need the temp directories, which nginx creates and chowns itself.
 */
export function writeNginxConfig(layout: NginxLayout, settings: NginxSettings): void {
  for (const dir of [layout.tempDir, layout.sitesDir, layout.certsDir, layout.serviceDir]) mkdirSync(dir, { recursive: true });
  const host = { nameservers: [] };
  writeFileSync(
    layout.challengeLocationsFile,
    renderTemplate('acme-challenge.conf.template', readFileSync(hostTemplates.acmeChallenge, 'utf8'), {
      CHALLENGE_ORIGIN: settings.challengeOrigin ?? `${new URL(settings.awsEndpoint).origin}/${settings.challengeBucket}`,
      RESOLVER: settings.resolver,
      ...(settings.caBundle ? { CA_BUNDLE: settings.caBundle } : {}),
    }, host),
  );
  writeFileSync(
    layout.challengeConfFile,
    renderTemplate('acme-challenge-server.conf.template', readFileSync(hostTemplates.acmeChallengeServer, 'utf8'), {
      HTTP_LISTEN: `127.0.0.1:${settings.httpPort}`,
      LOCATIONS_FILE: layout.challengeLocationsFile,
    }, host),
  );
  const asRoot = process.getuid?.() === 0;
  writeFileSync(
    layout.confFile,
    [
      '# Written by scripts/replica.ts: the local replica of an nginx host. daemon off comes from the s6 run script.',
      // Production Debian runs workers as www-data; a non-root master cannot switch users at all.
      ...(asRoot ? ['user www-data;'] : []),
      'worker_processes 1;',
      `pid ${layout.pidFile};`,
      'error_log stderr notice;',
      'events { worker_connections 256; }',
      'http {',
      `    access_log ${layout.accessLog};`,
      `    client_body_temp_path ${layout.tempDir}/body;`,
      `    proxy_temp_path ${layout.tempDir}/proxy;`,
      `    fastcgi_temp_path ${layout.tempDir}/fastcgi;`,
      `    uwsgi_temp_path ${layout.tempDir}/uwsgi;`,
      `    scgi_temp_path ${layout.tempDir}/scgi;`,
      '    server_names_hash_bucket_size 128;',
      '    server_tokens off;',
      `    include ${layout.challengeConfFile};`,
      `    include ${layout.sitesDir}/*.conf;`,
      '}',
      '',
    ].join('\n'),
  );
}

/** Runs `nginx -t` on the replica's configuration; throws with nginx's output when it is invalid. */
export async function testNginxConfig(layout: NginxLayout): Promise<void> {
  try {
    await promisify(execFile)('nginx', ['-t', '-q', '-c', layout.confFile, '-g', 'daemon off;']);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`nginx: testing ${layout.confFile}: ${stderr.trim() || String(error)}`, { cause: error });
  }
}

function answersHttp(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts `s6-supervise` on a copy of the committed service directory infra/host/s6/nginx (run script,
 * notification-fd, data/check) and returns once s6 reports nginx up and ready (`s6-svwait -U`).
 */
export async function startNginx(layout: NginxLayout, httpPort: number, logFile: string, started: ReplicaProcess[]): Promise<ReplicaProcess> {
  cpSync(hostTemplates.s6NginxService, layout.serviceDir, { recursive: true });
  rmSync(layout.pidFile, { force: true });
  const supervisor = await startLogged('s6-supervise', 's6-supervise', [layout.serviceDir], logFile, started, {
    ...process.env,
    NGINX_CONF: layout.confFile,
    NGINX_PID: layout.pidFile,
  });
  // s6-svwait needs the supervise directory, which s6-supervise creates as it starts.
  await waitUntilReady(supervisor, 's6-supervise', async () => (await run('s6-svok', [layout.serviceDir])) === 0);
  if ((await run('s6-svwait', ['-U', '-t', '15000', layout.serviceDir])) !== 0) throw new Error(`nginx: s6-svwait -U ${layout.serviceDir}: not ready within 15 s`);
  await waitUntilReady(supervisor, `nginx on 127.0.0.1:${httpPort}`, () => answersHttp(httpPort));
  return supervisor;
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => execFile(command, args, (error) => resolve(error ? (typeof error.code === 'number' ? error.code : 1) : 0)));
}

/**
 * Brings nginx down through s6 and ends `s6-supervise`; kills the supervisor if it lingers.
 * Safe to call twice.
 */
export async function stopNginx(layout: NginxLayout, supervisorPid: number): Promise<void> {
  if (isRunning(supervisorPid, 's6-supervise')) {
    try {
      await promisify(execFile)('s6-svc', ['-wD', '-T', '10000', '-dx', layout.serviceDir]);
    } catch (error) {
      console.warn(`s6-svc -wD -dx ${layout.serviceDir}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  await stopProcess(supervisorPid, 's6-supervise');
  // nginx removes its pid file when it exits; one left behind means s6 could not stop it.
  if (existsSync(layout.pidFile)) {
    const pid = Number(readFileSync(layout.pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0) await stopProcess(pid, layout.confFile);
  }
}
