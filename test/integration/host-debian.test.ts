/**
 * The agent as installed on a stock Debian 12 host: every command of the README's host section,
 * run in order on a host of the test's own (test/helpers/debian-host.ts), then the installed cron
 * line run literally in cron's environment (PATH=/usr/bin:/bin, no terminal, no stdin) against
 * nginx supervised by s6 as the shipped systemd unit starts it.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, test } from 'node:test';
import { addDomainFolder, createCertificatesBucket, getText, putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness } from '../helpers/renew-harness.js';
import { CRON_ENV, httpIn, ROOT_SHELL_ENV, servedSerialIn, SYSTEMD_ENV, startDebianHost, type CommandResult, type DebianHost } from '../helpers/debian-host.js';
import { ensureAgentBuilt } from '../helpers/sync-harness.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const state = replicaState();
const s3 = s3Client(state);

before(() => ensureAgentBuilt());

/** The commands of the README's host section, in order (a heredoc, or a line, is one command). */
function walkthroughCommands(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = /<!-- host-walkthrough:start -->([\s\S]*?)<!-- host-walkthrough:end -->/.exec(readme)?.[1];
  assert.ok(section, 'the README marks its host walkthrough');
  const lines = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => (block[1] as string).split('\n'));
  const commands: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as string;
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const heredoc = /<<'?(\w+)'?$/.exec(line);
    if (!heredoc) {
      commands.push(line);
      continue;
    }
    const body = [line];
    while (i + 1 < lines.length && lines[i] !== heredoc[1]) body.push(lines[(i += 1)] as string);
    commands.push(body.join('\n'));
  }
  return commands;
}

/**
 * The values a reader fills in, mapped to the replica's: the README's example bucket, origin,
 * domain and settings. Nothing else in a command is changed.
 */
function fillIn(command: string, values: { bucket: string; origin: string; domain: string; settings: string }): string {
  return command
    .replace(/<<'SETTINGS'\n[\s\S]*\nSETTINGS$/, `<<'SETTINGS'\n${values.settings}\nSETTINGS`)
    .replaceAll('https://s3.us-east-1.amazonaws.com/acme-certificates-production-challenges', values.origin)
    .replaceAll('acme-certificates-production-certificates', values.bucket)
    .replaceAll('example.com', values.domain);
}

/** The jobs of a cron.d file, each with the environment cron gives it (cron(8): its own variables, then the file's). */
function cronJobs(text: string): { schedule: string; user: string; command: string; env: Record<string, string> }[] {
  const env: Record<string, string> = { ...CRON_ENV };
  const jobs: { schedule: string; user: string; command: string; env: Record<string, string> }[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const variable = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (variable) {
      env[variable[1] as string] = (variable[2] as string).replace(/^(['"])(.*)\1$/, '$2');
      continue;
    }
    const fields = line.trim().split(/\s+/);
    jobs.push({ schedule: fields.slice(0, 5).join(' '), user: fields[5] as string, command: fields.slice(6).join(' '), env: { ...env } });
  }
  return jobs;
}

/** Runs the installed cron.d file's job as cron would. */
async function runCronJob(host: DebianHost): Promise<CommandResult> {
  const jobs = cronJobs(readFileSync(join(host.root, 'etc/cron.d/acme-sync'), 'utf8'));
  assert.equal(jobs.length, 1);
  const [job] = jobs as [(typeof jobs)[number]];
  assert.equal(job.user, 'root');
  return host.run(job.command, job.env);
}

test('a stock Debian 12 host, from nothing to a served certificate, by the README; then cron keeps it current in its own environment', { timeout: 300_000 }, async (t) => {
  const host = await startDebianHost(t);
  const moto = await host.forward(Number(new URL(state.awsEndpoint).port));
  const bucket = await createCertificatesBucket(s3);
  const domain = `${uniqueLabel('debian')}.test`;
  await addDomainFolder(s3, bucket, domain);
  const settings = [
    `CERTIFICATES_BUCKET=${bucket}`, 'AWS_REGION=us-east-1', 'AWS_ACCESS_KEY_ID=test', 'AWS_SECRET_ACCESS_KEY=test',
    // The replica's S3 and CA (Let's Encrypt staging users set the staging roots the same way).
    `AWS_ENDPOINT_URL=http://${moto}`, 'TRUSTED_ROOTS_FILE=/etc/acme-sync/pebble-root.pem',
  ].join('\n');
  const values = { bucket, origin: `http://${moto}/${state.buckets.challenges}`, domain, settings };

  // Commands that cannot run in this sandbox, and what the test checks instead.
  const notRunHere: { pattern: RegExp; instead: () => Promise<void> }[] = [
    { pattern: /^npm run build$/, instead: async () => ensureAgentBuilt() },
    { pattern: /^scp -r dist\/host \S+:(\/\S+)$/, instead: async () => host.copyIn(join(repoRoot, 'dist', 'host'), '/tmp/acme-sync') },
    {
      pattern: /^apt-get install -y nginx s6$/,
      instead: async () => {
        const installed = await host.run("dpkg-query -W -f='${Package} ${Status}\\n' nginx s6", ROOT_SHELL_ENV);
        assert.equal(installed.stdout, 'nginx install ok installed\ns6 install ok installed\n', 'Debian\'s nginx and s6 are installed');
      },
    },
    {
      pattern: /^curl -fsSL https:\/\/deb\.nodesource\.com\/setup_22\.x \| bash - && apt-get install -y nodejs$/,
      instead: async () => {
        const node = await host.run('node -p process.versions.node', ROOT_SHELL_ENV);
        assert.ok(Number(node.stdout.split('.')[0]) >= 20, `the host has node >= 20 (${node.stdout.trim()})`);
      },
    },
    {
      pattern: /^systemctl disable --now nginx\.service && systemctl mask nginx\.service$/,
      instead: async () => {
        const running = await host.run('pgrep --ns $$ --nslist net -x nginx || true', ROOT_SHELL_ENV);
        assert.equal(running.stdout, '', 'no nginx runs outside s6');
      },
    },
    {
      pattern: /^systemctl daemon-reload && systemctl enable --now s6-svscan\.service$/,
      instead: async () => {
        // What systemd would start: the unit's ExecStart, with a service's environment.
        const unit = readFileSync(join(host.root, 'etc/systemd/system/s6-svscan.service'), 'utf8');
        const execStart = /^ExecStart=(.+)$/m.exec(unit)?.[1];
        assert.ok(execStart, 'the unit has an ExecStart');
        host.startService(execStart.split(/\s+/), SYSTEMD_ENV);
        const ready = await host.run('s6-svwait -U -t 15000 /service/nginx', ROOT_SHELL_ENV, 30_000);
        assert.equal(ready.code, 0, `nginx up and ready under s6: ${ready.stderr}`);
      },
    },
  ];

  const commands = walkthroughCommands();
  assert.ok(commands.length >= 12, `the walkthrough has its commands (${commands.length})`);
  for (const command of commands) {
    const special = notRunHere.find((item) => item.pattern.test(command));
    if (special) {
      await special.instead();
      continue;
    }
    if (command.includes("<<'SETTINGS'")) host.copyIn(state.acme.rootsFile, '/etc/acme-sync/pebble-root.pem');
    const result = await host.run(fillIn(command, values), ROOT_SHELL_ENV);
    assert.equal(result.code, 0, `${command}\n${result.stdout}${result.stderr}`);
  }

  // The stock default site is still enabled beside the challenge server, and nginx accepts both.
  const dump = await host.run('nginx -T -q', ROOT_SHELL_ENV);
  assert.match(dump.stdout, /# configuration file \/etc\/nginx\/sites-enabled\/default:\n[\s\S]*listen 80 default_server;/);
  assert.match(dump.stdout, /# configuration file \/etc\/nginx\/conf\.d\/acme-challenge-server\.conf:/);

  // Port 80 answers challenges on IPv4 and IPv6, and redirects everything else.
  const token = `tok${uniqueLabel('c').replace('-', '')}`;
  await putText(s3, state.buckets.challenges, `.well-known/acme-challenge/${token}`, `${token}.thumbprint`);
  for (const address of ['127.0.0.1', '::1']) {
    const answer = await httpIn(host, address, domain, `/.well-known/acme-challenge/${token}`);
    assert.deepEqual([answer.status, answer.body], [200, `${token}.thumbprint`], `challenge over ${address}`);
  }
  assert.equal((await httpIn(host, '127.0.0.1', domain, '/.well-known/acme-challenge/missing')).status, 404);
  assert.equal((await httpIn(host, '127.0.0.1', domain, `/.well-known/acme-challenge/${token}`, 'POST')).status, 405);
  assert.equal((await httpIn(host, '::1', domain, '/page?x=1')).location, `https://${domain}/page?x=1`);

  // Cron's environment is really cron's: nginx is not on its PATH.
  assert.notEqual((await host.run('command -v nginx', CRON_ENV)).code, 0);

  // A second domain arrives in the bucket: the first cron run installs its placeholder, once.
  const other = `${uniqueLabel('other')}.test`;
  await addDomainFolder(s3, bucket, other);
  const first = await runCronJob(host);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, new RegExp(`placeholder ${other}`));
  assert.match(first.stdout, new RegExp(`NOTICE ${other.replace(/\./g, '\\.')}: installed, but no server block`));
  assert.equal(first.stderr, '');

  // The renew function issues the domain's certificate; the next cron run installs it and nginx serves it.
  const harness = await renewHarness({ CERTIFICATES_BUCKET: bucket });
  const report = await harness.run({ domains: [domain] });
  assert.equal(report.outcomes[0]?.outcome, 'renewed', JSON.stringify(report.outcomes));
  const serial = (JSON.parse((await getText(s3, bucket, `${domain}/status.json`)) ?? '{}') as { serial: string }).serial;
  const renewed = await runCronJob(host);
  assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
  assert.match(renewed.stdout, new RegExp(`installed ${domain}: serial ${serial}`));
  assert.match(renewed.stdout, /nginx reloaded/);
  assert.equal(renewed.stderr, '');
  assert.equal(await servedSerialIn(host, domain), serial);
  assert.equal(await servedSerialIn(host, `www.${domain}`), serial);

  // Nothing changed: no output at all, so cron sends no mail.
  const quiet = await runCronJob(host);
  assert.deepEqual(quiet, { code: 0, stdout: '', stderr: '' });
});
