/**
 * The host installation as a user performs it: install.sh (into a DESTDIR), the example env file
 * sourced by the exact cron line, and the installed agent running against the local replica.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { addDomainFolder, createCertificatesBucket, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { agentBundle, ensureAgentBuilt } from '../helpers/sync-harness.js';

const state = replicaState();

before(() => ensureAgentBuilt());

test('install.sh lays out the agent, and the cron line runs it with the example env file', async () => {
  const destdir = mkdtempSync(join(tmpdir(), 'host-'));
  const bucket = await createCertificatesBucket(s3Client(state));
  const domain = `${uniqueLabel('cron')}.test`;
  await addDomainFolder(s3Client(state), bucket, domain);

  const install = spawnSync('bash', ['infra/host/install.sh', agentBundle], { env: { ...process.env, DESTDIR: destdir }, encoding: 'utf8' });
  const envFile = join(destdir, 'etc/acme-sync/agent.env');
  const rootsFile = join(destdir, 'pebble-root.pem');
  spawnSync('cp', [state.acme.rootsFile, rootsFile]);
  appendFileSync(envFile, [
    `CERTIFICATES_BUCKET=${bucket}`, `AWS_ENDPOINT_URL=${state.awsEndpoint}`, 'AWS_ACCESS_KEY_ID=test', 'AWS_SECRET_ACCESS_KEY=test',
    `CERTS_DIR=${destdir}/etc/nginx/certs`, `STATE_FILE=${destdir}/var/lib/acme-sync/state.json`, `LOCK_FILE=${destdir}/run/acme-sync.lock`, `TRUSTED_ROOTS_FILE=${rootsFile}`,
    'NGINX_TEST_COMMAND=true', 'RELOAD_COMMAND=true', 'SERVED_CHECK_SECONDS=0', 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true', '',
  ].join('\n'));
  const cronLine = readFileSync(join(destdir, 'etc/cron.d/acme-sync'), 'utf8').split('\n').find((line) => /^\d/.test(line)) ?? '';
  const fields = cronLine.split(/\s+/);
  mkdirSync(join(destdir, 'run/lock'), { recursive: true });
  const command = fields.slice(6).join(' ')
    .replaceAll('/etc/acme-sync/', `${destdir}/etc/acme-sync/`).replaceAll('/opt/acme-sync/', `${destdir}/opt/acme-sync/`).replaceAll('/run/lock/', `${destdir}/run/lock/`)
    .replace('/usr/bin/node', process.execPath);
  const cron = spawnSync('/bin/sh', ['-c', command], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'utf8' });

  assert.equal(install.status, 0, install.stderr);
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  assert.equal(statSync(join(destdir, 'etc/acme-sync')).mode & 0o777, 0o700);
  assert.deepEqual(fields.slice(0, 6), ['20', '*', '*', '*', '*', 'root']);
  assert.match(command, /^set -a; .* exec \/usr\/bin\/flock -n \S+\/run\/lock\/acme-sync\.cron\.lock \S+ \S+\/opt\/acme-sync\/sync-agent\.js$/, 'node runs under flock');
  assert.equal(cron.status, 0, cron.stdout + cron.stderr);
  assert.doesNotMatch(cron.stderr, /not found|syntax error|unexpected/, 'the example env file sources cleanly');
  assert.match(cron.stdout, new RegExp(`placeholder ${domain}`));
  assert.equal(statSync(join(destdir, 'etc/nginx/certs', domain, 'domain.key')).mode & 0o777, 0o600);
  assert.equal(existsSync(join(destdir, 'run/lock/acme-sync.cron.lock')), true, 'flock took its lock file');
  assert.equal(existsSync(join(destdir, 'run/acme-sync.lock')), false, 'the agent released its lock file');
});

test('the cron line skips a tick while the previous run still holds the flock', async () => {
  const destdir = mkdtempSync(join(tmpdir(), 'host-'));
  spawnSync('bash', ['infra/host/install.sh', agentBundle], { env: { ...process.env, DESTDIR: destdir }, encoding: 'utf8' });
  mkdirSync(join(destdir, 'run/lock'), { recursive: true });
  const cronLock = join(destdir, 'run/lock/acme-sync.cron.lock');
  const cronLine = readFileSync(join(destdir, 'etc/cron.d/acme-sync'), 'utf8').split('\n').find((line) => /^\d/.test(line)) ?? '';
  // echo stands in for node: it prints the agent's path if the agent would have started.
  const command = cronLine.split(/\s+/).slice(6).join(' ').replaceAll('/etc/acme-sync/', `${destdir}/etc/acme-sync/`).replaceAll('/run/lock/', `${destdir}/run/lock/`).replace('/usr/bin/node', '/bin/echo');

  const held = spawnSync('flock', [cronLock, '/bin/sh', '-c', command], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'utf8' });
  const free = spawnSync('/bin/sh', ['-c', command], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'utf8' });

  assert.equal(held.status, 1, 'flock -n gave up');
  assert.equal(held.stdout, '', 'the agent did not start');
  assert.equal(free.status, 0);
  assert.match(free.stdout, /sync-agent\.js/, 'with the lock free, the agent starts');
});
