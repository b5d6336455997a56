/**
 * nginx and the agent in one s6-overlay container, as infra/host/container/ defines them, against
 * the replica.
 *
 * Images cannot be pulled or built here (no registry, no Docker engine), and s6-overlay and s6-rc
 * are not Debian packages, so this test stands in for three things, each plainly:
 * - `docker build`: the Dockerfile's COPY lines are applied to a root made from this machine's
 *   Debian 12 (the node:22-bookworm-slim base is Debian 12 with nginx and node installed the same
 *   way); FROM, ADD and the package and tarball RUN lines are not run;
 * - s6-overlay's binaries tarball: /command holds the s6 and execline tools of Debian's packages;
 * - s6-overlay's stage 2 (s6-rc): services start in the order their dependencies.d give, a oneshot's
 *   `up` runs under execlineb, longruns become service directories in /run/service under
 *   s6-svscan, and every service gets only PATH=/command:/usr/bin:/bin, as s6-overlay gives them;
 *   `docker run -e` values are in /run/s6/container_environment, as s6-overlay leaves them.
 * The run scripts, the oneshot script, the agent and nginx are the real ones.
 */

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { addDomainFolder, createCertificatesBucket, getText, putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness } from '../helpers/renew-harness.js';
import { httpIn, servedSerialIn, startDebianHost, type DebianHost } from '../helpers/debian-host.js';
import { ensureAgentBuilt } from '../helpers/sync-harness.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const state = replicaState();
const s3 = s3Client(state);
/** The environment s6-overlay gives its services (S6_KEEP_ENV=0). */
const S6_OVERLAY_SERVICE_ENV = { PATH: '/command:/usr/bin:/bin' };
/** The PATH of the node:22-bookworm-slim image, under which a Dockerfile's RUN lines run. */
const IMAGE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };

before(() => ensureAgentBuilt());

/** Applies the Dockerfile to the root: its COPY lines; everything else is listed as not run. */
function build(host: DebianHost, buildArgs: Record<string, string>): { env: Record<string, string>; notRun: string[] } {
  const text = readFileSync(join(repoRoot, 'infra/host/container/Dockerfile'), 'utf8');
  const args: Record<string, string> = {};
  const env: Record<string, string> = {};
  const notRun: string[] = [];
  const substitute = (value: string) => value.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? env[name] ?? '');
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [instruction = '', ...rest] = line.trim().split(/\s+/);
    const operand = rest.join(' ');
    if (instruction === 'ARG') {
      const [name = '', value] = operand.split('=');
      args[name] = buildArgs[name] ?? value ?? '';
    } else if (instruction === 'ENV') {
      const [name = '', value = ''] = operand.split('=');
      env[name] = substitute(value);
    } else if (instruction === 'COPY') {
      const [source = '', target = ''] = rest;
      copy(host, join(repoRoot, source), target);
    } else {
      notRun.push(`${instruction} ${operand}`);
    }
  }
  return { env, notRun };
}

/** Docker's COPY: a directory's contents into the target directory, a file into it (target/) or as it. */
function copy(host: DebianHost, source: string, target: string): void {
  const destination = join(host.root, target);
  if (statSync(source).isDirectory()) {
    mkdirSync(destination, { recursive: true });
    for (const entry of readdirSync(source)) cpSync(join(source, entry), join(destination, entry), { recursive: true });
  } else {
    mkdirSync(target.endsWith('/') ? destination : join(destination, '..'), { recursive: true });
    cpSync(source, target.endsWith('/') ? join(destination, basename(source)) : destination);
  }
}

/** s6-overlay's tools in /command: here, Debian's s6 and execline binaries. */
function installCommandDir(host: DebianHost): void {
  const command = join(host.root, 'command');
  mkdirSync(command, { recursive: true });
  for (const tool of readdirSync('/usr/bin').filter((name) => /^(s6-|execline|eltest|importas|emptyenv|if|foreground|background|fdmove|exec$|redirfd|piperw|backtick)/.test(name))) {
    if (!existsSync(join(command, tool))) symlinkSync(`/usr/bin/${tool}`, join(command, tool));
  }
}

/** The services of s6-rc.d in the user bundle, in dependency order. */
function startOrder(host: DebianHost): string[] {
  const definitions = join(host.root, 'etc/s6-overlay/s6-rc.d');
  const wanted = readdirSync(join(host.root, 'etc/s6-overlay/user-bundles.d/user/contents.d'));
  const order: string[] = [];
  const visit = (name: string) => {
    if (order.includes(name) || name === 'base') return;
    const dependencies = join(definitions, name, 'dependencies.d');
    for (const dependency of existsSync(dependencies) ? readdirSync(dependencies) : []) visit(dependency);
    order.push(name);
  };
  wanted.sort().forEach(visit);
  return order;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null> | T | null, timeoutMs = 20_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(100)) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

test('the container\'s services, as s6-overlay runs them: placeholders before nginx starts, nginx under s6, the agent looping in place of cron', { timeout: 300_000 }, async (t) => {
  const host = await startDebianHost(t);
  const moto = await host.forward(Number(new URL(state.awsEndpoint).port));
  const bucket = await createCertificatesBucket(s3);
  const domain = `${uniqueLabel('container')}.test`;
  await addDomainFolder(s3, bucket, domain);

  // docker build.
  const image = build(host, {});
  assert.deepEqual(image.notRun.map((line) => line.split(' ')[0]), ['FROM', 'RUN', 'ADD', 'ADD', 'RUN', 'EXPOSE', 'ENTRYPOINT'], 'only what needs a registry or the network is not run');
  installCommandDir(host);
  // The image's own site (COPY sites/ /etc/nginx/sites-enabled/ in a user's Dockerfile).
  const site = await host.run(`node /opt/acme-sync/sync-agent.js render site.conf.template --output /etc/nginx/sites-enabled/${domain} DOMAIN=${domain}`, IMAGE_ENV);
  assert.equal(site.code, 0, site.stderr);

  // docker run -e ...: s6-overlay keeps the container's environment in /run/s6/container_environment.
  host.copyIn(state.acme.rootsFile, '/etc/pebble-root.pem');
  const containerEnv = {
    ...image.env, CERTIFICATES_BUCKET: bucket, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: `http://${moto}`, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
    TRUSTED_ROOTS_FILE: '/etc/pebble-root.pem', CHALLENGE_ORIGIN: `http://${moto}/${state.buckets.challenges}`,
  };
  const envDir = join(host.root, 'run/s6/container_environment');
  mkdirSync(envDir, { recursive: true });
  for (const [name, value] of Object.entries(containerEnv)) writeFileSync(join(envDir, name), value);

  // s6-overlay's stage 2: the user bundle in dependency order.
  const order = startOrder(host);
  assert.deepEqual(order, ['acme-sync-init', 'nginx', 'acme-sync']);
  mkdirSync(join(host.root, 'run/service'), { recursive: true });
  const tree = host.startService(['s6-svscan', '/run/service'], S6_OVERLAY_SERVICE_ENV);
  const oneshotOutput: string[] = [];
  for (const name of order) {
    const definition = join(host.root, 'etc/s6-overlay/s6-rc.d', name);
    const type = readFileSync(join(definition, 'type'), 'utf8').trim();
    if (type === 'oneshot') {
      const result = await host.run(`execlineb -P /etc/s6-overlay/s6-rc.d/${name}/up`, S6_OVERLAY_SERVICE_ENV);
      assert.equal(result.code, 0, `${name}: ${result.stdout}${result.stderr}`);
      oneshotOutput.push(result.stdout, result.stderr);
      continue;
    }
    const live = join(host.root, 'run/service', name);
    mkdirSync(live);
    for (const entry of readdirSync(definition).filter((item) => !['type', 'dependencies.d'].includes(item))) cpSync(join(definition, entry), join(live, entry), { recursive: true });
    await host.run('s6-svscanctl -a /run/service', S6_OVERLAY_SERVICE_ENV);
    const wait = existsSync(join(live, 'notification-fd')) ? '-U' : '-u';
    const up = await host.run(`s6-svok /run/service/${name} 2>/dev/null || sleep 1; s6-svwait ${wait} -t 15000 /run/service/${name}`, S6_OVERLAY_SERVICE_ENV, 30_000);
    assert.equal(up.code, 0, `${name} up: ${up.stderr}\n${readFileSync(tree.log, 'utf8')}`);
  }

  // The oneshot rendered the challenge proxy from CHALLENGE_ORIGIN at start: port 80 answers challenges.
  const token = uniqueLabel('ctok').replace('-', '_');
  await putText(s3, state.buckets.challenges, `.well-known/acme-challenge/${token}`, `${token}.authorization`);
  const challenge = await httpIn(host, '127.0.0.1', domain, `/.well-known/acme-challenge/${token}`);
  assert.deepEqual([challenge.status, challenge.body], [200, `${token}.authorization`]);

  // Before nginx started, the oneshot installed a placeholder, so nginx could load the site.
  assert.match(oneshotOutput.join(''), new RegExp(`placeholder ${domain}`));
  assert.equal(existsSync(join(host.root, 'etc/nginx/certs', domain, 'domain.key')), true);
  // The agent's first loop run confirms it (reloading nginx through /command/s6-svc).
  await waitFor('the first loop run', () => (readFileSync(tree.log, 'utf8').includes(`confirming ${domain}: placeholder serial`) ? true : null));

  // A renewal; `s6-svc -h` on the agent's service runs the loop at once.
  const harness = await renewHarness({ CERTIFICATES_BUCKET: bucket });
  const report = await harness.run({ domains: [domain] });
  assert.equal(report.outcomes[0]?.outcome, 'renewed', JSON.stringify(report.outcomes));
  const serial = (JSON.parse((await getText(s3, bucket, `${domain}/status.json`)) ?? '{}') as { serial: string }).serial;
  const hup = await host.run('/command/s6-svc -h /run/service/acme-sync', S6_OVERLAY_SERVICE_ENV);
  assert.equal(hup.code, 0, hup.stderr);
  await waitFor('the renewed certificate installed', () => (readFileSync(tree.log, 'utf8').includes(`installed ${domain}: serial ${serial}`) ? true : null));

  const log = readFileSync(tree.log, 'utf8');
  assert.match(log, /nginx reloaded/);
  assert.doesNotMatch(log, /FAILED|not found/, log);
  assert.equal(await servedSerialIn(host, domain), serial);

  // docker stop: s6-svscan brings the services down; the agent leaves its loop.
  const stop = await host.run('s6-svscanctl -t /run/service', S6_OVERLAY_SERVICE_ENV);
  assert.equal(stop.code, 0);
  await waitFor('the supervision tree to exit', () => (tree.process.exitCode !== null || tree.process.signalCode !== null ? true : null), 15_000);
  assert.equal(tree.process.exitCode, 0);
});
