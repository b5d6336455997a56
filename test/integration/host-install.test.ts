/**
 * The host installation as a user performs it: install.sh (into a DESTDIR), the example env file
 * sourced by the exact cron line, and the installed agent running against the local replica.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
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
    `CERTS_DIR=${destdir}/etc/nginx/certs`, `STATE_FILE=${destdir}/var/lib/acme-sync/state.json`, `TRUSTED_ROOTS_FILE=${rootsFile}`,
    'NGINX_TEST_COMMAND=true', 'RELOAD_COMMAND=true', 'SERVED_CHECK_SECONDS=0', 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true', '',
  ].join('\n'));
  const cronLine = readFileSync(join(destdir, 'etc/cron.d/acme-sync'), 'utf8').split('\n').find((line) => /^\d/.test(line)) ?? '';
  const fields = cronLine.split(/\s+/);
  const command = fields.slice(6).join(' ').replaceAll('/etc/acme-sync/', `${destdir}/etc/acme-sync/`).replaceAll('/opt/acme-sync/', `${destdir}/opt/acme-sync/`).replace('/usr/bin/node', process.execPath);
  const cron = spawnSync('/bin/sh', ['-c', command], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'utf8' });

  assert.equal(install.status, 0, install.stderr);
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  assert.equal(statSync(join(destdir, 'etc/acme-sync')).mode & 0o777, 0o700);
  assert.deepEqual(fields.slice(0, 6), ['20', '*', '*', '*', '*', 'root']);
  assert.equal(cron.status, 0, cron.stdout + cron.stderr);
  assert.doesNotMatch(cron.stderr, /not found|syntax error|unexpected/, 'the example env file sources cleanly');
  assert.match(cron.stdout, new RegExp(`placeholder ${domain}`));
  assert.equal(statSync(join(destdir, 'etc/nginx/certs', domain, 'domain.key')).mode & 0o777, 0o600);
});
