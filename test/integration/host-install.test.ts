/**
 * What install.sh lays out (into a DESTDIR, as a package build would), the agent's command line as
 * installed, and the cron line's flock on a host of the test's own.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, test } from 'node:test';
import { CRON_ENV, ROOT_SHELL_ENV, startDebianHost } from '../helpers/debian-host.js';
import { agentBundle, ensureAgentBuilt } from '../helpers/sync-harness.js';
import { tempDir } from '../helpers/temp.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const hostDir = join(repoRoot, 'dist', 'host');

before(() => ensureAgentBuilt());

function install(args: string[], env: Record<string, string>): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('sh', [join(hostDir, 'install.sh'), ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

test('install.sh lays out the agent, its templates, the acme-sync command with node\'s absolute path, the cron line and the settings file', () => {
  const destdir = tempDir('install');

  const result = install([], { DESTDIR: destdir });

  assert.equal(result.code, 0, result.stderr);
  assert.equal(readFileSync(join(destdir, 'opt/acme-sync/sync-agent.js'), 'utf8'), readFileSync(agentBundle, 'utf8'));
  for (const template of ['acme-challenge.conf.template', 'acme-challenge-server.conf.template', 'site.conf.template']) assert.ok(existsSync(join(destdir, 'opt/acme-sync/templates', template)), template);
  const command = readFileSync(join(destdir, 'usr/local/sbin/acme-sync'), 'utf8');
  assert.equal(mode(join(destdir, 'usr/local/sbin/acme-sync')), 0o755);
  assert.match(command, new RegExp(`^exec ${process.execPath.replace(/[.+]/g, '\\$&')} --enable-source-maps /opt/acme-sync/sync-agent\\.js "\\$@"$`, 'm'), 'node by its absolute path, with source maps');
  assert.equal(readFileSync(join(destdir, 'opt/acme-sync/sync-agent.js.map'), 'utf8'), readFileSync(join(hostDir, 'sync-agent.js.map'), 'utf8'), 'the source map beside the agent');
  assert.match(command, /^PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m, 'a PATH with nginx on it');
  assert.match(readFileSync(join(destdir, 'etc/cron.d/acme-sync'), 'utf8'), /^20 \* \* \* \* root \/usr\/bin\/flock -n -E 75 \/run\/lock\/acme-sync\.cron\.lock \/usr\/bin\/timeout 50m \/usr\/local\/sbin\/acme-sync; /m);
  assert.equal(mode(join(destdir, 'etc/acme-sync/agent.env')), 0o600);
  assert.equal(mode(join(destdir, 'etc/acme-sync')), 0o700);
  assert.equal(existsSync(join(destdir, 'service')), false, 'no s6 files without --s6');
});

test('install.sh --s6 adds nginx\'s s6 service directory and the s6-svscan unit, and keeps an edited agent.env', () => {
  const destdir = tempDir('install');
  install([], { DESTDIR: destdir });
  writeFileSync(join(destdir, 'etc/acme-sync/agent.env'), 'CERTIFICATES_BUCKET=mine\n');

  const result = install(['--s6'], { DESTDIR: destdir });

  assert.equal(result.code, 0, result.stderr);
  assert.equal(mode(join(destdir, 'service/nginx/run')), 0o755);
  assert.equal(mode(join(destdir, 'service/nginx/data/check')), 0o755);
  assert.equal(readFileSync(join(destdir, 'service/nginx/notification-fd'), 'utf8').trim(), '3');
  assert.match(readFileSync(join(destdir, 'etc/systemd/system/s6-svscan.service'), 'utf8'), /^ExecStart=\/usr\/bin\/s6-svscan \/service$/m);
  assert.match(result.stdout, /systemctl mask nginx\.service/);
  assert.equal(readFileSync(join(destdir, 'etc/acme-sync/agent.env'), 'utf8'), 'CERTIFICATES_BUCKET=mine\n');
});

test('install.sh refuses an unknown option and a node older than 20, changing nothing', () => {
  const destdir = tempDir('install');
  const fakeBin = tempDir('old-node');
  writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\necho 18\n', { mode: 0o755 });

  const unknown = install(['--s7'], { DESTDIR: destdir });
  const old = spawnSync('sh', [join(hostDir, 'install.sh')], { env: { PATH: `${fakeBin}:/usr/bin:/bin`, DESTDIR: destdir }, encoding: 'utf8' });

  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option --s7/);
  assert.equal(old.status, 1);
  assert.match(old.stderr, /node 18; the agent needs node >= 20/);
  assert.deepEqual(spawnSync('find', [destdir, '-mindepth', '1'], { encoding: 'utf8' }).stdout, '');
});

test('the agent\'s command line: --help on stdout with status 0, --version, and an unknown flag named with status 2', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [agentBundle, ...args], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });

  const help = run(['--help']);
  const version = run(['--version']);
  const unknown = run(['--bukket', 'x']);
  const missing = run([]);

  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: node sync-agent\.js/);
  assert.equal(help.stderr, '');
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^acme-sync \d+\.\d+\.\d+ \(node v\d+/);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Unknown option '--bukket'/);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--bucket \(or CERTIFICATES_BUCKET\) is required/);
});

test('render writes the filled-in template; a bad value is named, exits 2 and leaves the output file as it was', () => {
  const dir = tempDir('render');
  const output = join(dir, 'site.conf');
  writeFileSync(output, 'the previous file\n');
  const render = (values: string[]) => spawnSync(process.execPath, [agentBundle, 'render', join(repoRoot, 'infra/host/nginx/site.conf.template'), '--output', output, ...values], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });

  const bad = render(['DOMAIN=example.com;evil']);
  const unknown = render(['DOMAIN=example.com', 'DOMIAN=x']);
  const kept = readFileSync(output, 'utf8');
  const good = render(['DOMAIN=example.com']);

  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /DOMAIN "example\.com;evil"/);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown value\(s\) DOMIAN/);
  assert.equal(kept, 'the previous file\n');
  assert.equal(good.status, 0, good.stderr);
  assert.match(readFileSync(output, 'utf8'), /ssl_certificate \/etc\/nginx\/certs\/example\.com\/domain\.crt;/);
  assert.deepEqual(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout, 'site.conf\n', 'no temporary file left');
});

test('the cron line skips a tick while the previous run still holds the flock, and says so', async (t) => {
  const host = await startDebianHost(t);
  host.copyIn(hostDir, '/tmp/acme-sync');
  assert.equal((await host.run('sh /tmp/acme-sync/install.sh', ROOT_SHELL_ENV)).code, 0);
  const line = readFileSync(join(host.root, 'etc/cron.d/acme-sync'), 'utf8').split('\n').find((entry) => /^\d/.test(entry)) ?? '';
  const command = line.split(/\s+/).slice(6).join(' ');
  // A run still going: something holds the cron line's lock.
  const previous = host.startService(['flock', '/run/lock/acme-sync.cron.lock', 'sh', '-c', 'echo $$ > /run/previous-run.pid; exec sleep 60'], CRON_ENV);
  await waitForFile(join(host.root, 'run/previous-run.pid'));

  const held = await host.run(command, CRON_ENV);
  const finished = new Promise((resolve) => previous.process.once('exit', resolve));
  await host.run('kill "$(cat /run/previous-run.pid)"', ROOT_SHELL_ENV);
  await finished;
  const free = await host.run(command, CRON_ENV);

  assert.equal(held.stdout, 'acme-sync: this run was skipped: the previous one still holds /run/lock/acme-sync.cron.lock\n', 'cron mails the skip');
  assert.equal(held.stderr, '');
  assert.match(free.stderr, /acme-sync: listing s3:\/\/acme-certificates-production-certificates\//, 'with the lock free the agent starts, and reports that the example bucket cannot be listed from here');
});

async function waitForFile(path: string): Promise<void> {
  for (const deadline = Date.now() + 5000; !existsSync(path) && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
}
