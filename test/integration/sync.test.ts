/**
 * The host sync agent against real nginx under s6-supervise, moto, and certificates issued by the
 * renew function through Pebble.
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { writeSite } from '../../scripts/replica/sites.js';
import { chainPem, issue, newKey } from '../helpers/pki.js';
import { addDomainFolder, getText, pebbleRoot, putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness, type RenewHarness } from '../helpers/renew-harness.js';
import { syncFailed } from '../../functions/sync/report.js';
import { agentSetup, ensureAgentBuilt, type AgentSetup, plantPair, runAgent, servedCertificate, startAgent, syncInProcess, writeManifest } from '../helpers/sync-harness.js';
import { startTestNginx } from '../helpers/test-nginx.js';

const state = replicaState();
const s3 = s3Client(state);
const DAY = 86_400_000;

before(() => ensureAgentBuilt());

// nginx is shared by every test: a site whose certificate never arrives would fail `nginx -t` for all.
const sitesWritten: string[] = [];
after(() => {
  for (const site of sitesWritten) rmSync(site, { force: true });
});

/** Issues real certificates for fresh domains through the renew function, with nginx sites for them. */
async function issuedDomains(count: number, prefix: string) {
  const harness = await renewHarness();
  const domains = Array.from({ length: count }, (_, i) => `${uniqueLabel(`${prefix}${i}`)}.test`);
  const sites: string[] = [];
  for (const domain of domains) {
    await addDomainFolder(s3, harness.bucket, domain);
    sites.push(writeSite(state.nginx, domain));
  }
  sitesWritten.push(...sites);
  return { harness, domains, sites, setup: agentSetup(harness.bucket, pebbleRoot(state), state.nginx) };
}

/** Runs the renew function and asserts it issued every domain (a preparation step that must not fail quietly). */
async function renewAllOf(harness: RenewHarness): Promise<void> {
  const report = await harness.run();
  assert.ok(report.outcomes.every((item) => item.outcome === 'renewed'), `renew did not issue: ${JSON.stringify(report.outcomes)}`);
}

/** Runs the agent once (placeholders), then issues through the renew function; returns the domain's new serial. */
async function placeholdersThenIssued(harness: RenewHarness, setup: AgentSetup, domain: string): Promise<string> {
  runAgent(state, setup);
  await renewAllOf(harness);
  return statusSerial(harness.bucket, domain);
}

async function statusSerial(bucket: string, domain: string): Promise<string> {
  return (JSON.parse((await getText(s3, bucket, `${domain}/status.json`)) ?? '{}') as { serial: string }).serial;
}

/**
 * Returns the serial nginx serves for `name` once it equals `expected` (or the last one seen after
 * 5 s): for a moment after a reload, a handshake can still reach an old worker.
 */
async function eventuallyServed(name: string, expected: string): Promise<string> {
  let served = '';
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
    served = (await servedCertificate(state.nginx.httpsPort, name)).serialNumber.toLowerCase();
    if (served === expected) break;
  }
  return served;
}

function installedSerial(certsDir: string, domain: string): string {
  return new X509Certificate(readFileSync(join(certsDir, domain, 'domain.crt'))).serialNumber.toLowerCase();
}

describe('host sync agent with nginx under s6', () => {
  test('first run installs placeholders for domains without certificates, and nginx restarts ready with them', async () => {
    const { domains, setup } = await issuedDomains(2, 'first');

    const result = runAgent(state, setup);

    assert.equal(result.code, 0, result.stdout + result.stderr);
    for (const domain of domains) assert.match(result.stdout, new RegExp(`placeholder ${domain}`));
    const dir = join(setup.nginx.certsDir, domains[0] as string);
    assert.equal(lstatSync(dir).isSymbolicLink(), true);
    assert.equal(statSync(join(dir, 'domain.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'domain.crt')).mode & 0o777, 0o644);
    assert.equal(statSync(dir).mode & 0o777, 0o755);
    const restart = spawnSync('s6-svc', ['-wR', '-T', '15000', '-t', state.nginx.serviceDir], { encoding: 'utf8' });
    assert.equal(restart.status, 0, `nginx restarted under s6 and reported ready: ${restart.stderr}`);
    assert.match(spawnSync('s6-svstat', [state.nginx.serviceDir], { encoding: 'utf8' }).stdout, /^up .*ready/);
    const served = await servedCertificate(state.nginx.httpsPort, domains[0] as string);
    assert.equal(served.subject.O, 'acme-sync placeholder');
  });

  test('after renew issues certificates, one run installs them and reloads; TLS with SNI gets the new certificate, verified against Pebble\'s root', async () => {
    const { harness, domains, setup } = await issuedDomains(2, 'real');
    runAgent(state, setup);
    await renewAllOf(harness);

    const result = runAgent(state, setup);

    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /nginx reloaded/, result.stderr);
    for (const domain of domains) {
      const expected = await statusSerial(harness.bucket, domain);
      assert.match(result.stdout, new RegExp(`installed ${domain}: serial ${expected}`));
      for (const name of [domain, `www.${domain}`]) {
        const served = await servedCertificate(state.nginx.httpsPort, name, pebbleRoot(state));
        assert.equal(served.serialNumber.toLowerCase(), expected);
      }
    }
  });

  test('a renewal with a new domain key (the default) is installed as one pair: the installed key is the new certificate\'s, and nginx serves it', async () => {
    const { harness, domains, setup } = await issuedDomains(1, 'rotate');
    const [domain] = domains as [string];
    await placeholdersThenIssued(harness, setup, domain);
    runAgent(state, setup);
    const keyBefore = readFileSync(join(setup.nginx.certsDir, domain, 'domain.key'), 'utf8');
    const forced = await harness.run({ domains: [domain], force: true });
    assert.equal(forced.outcomes[0]?.outcome, 'renewed');

    const result = runAgent(state, setup);

    assert.equal(result.code, 0, result.stdout + result.stderr);
    const [key, certificate] = ['domain.key', 'domain.crt'].map((file) => readFileSync(join(setup.nginx.certsDir, domain, file), 'utf8')) as [string, string];
    assert.notEqual(key, keyBefore, 'the new key is installed');
    assert.ok(new X509Certificate(certificate).checkPrivateKey(createPrivateKey(key)), 'the installed certificate is for the installed key');
    const serial = await statusSerial(harness.bucket, domain);
    assert.equal(installedSerial(setup.nginx.certsDir, domain), serial);
    assert.equal(await eventuallyServed(domain, serial), serial);
  });

  test('a second run with nothing changed downloads nothing, does not reload, and prints nothing', async () => {
    const { harness, setup } = await issuedDomains(2, 'quiet');
    await renewAllOf(harness);
    runAgent(state, setup);

    const report = await syncInProcess(state, setup);
    const cli = runAgent(state, setup);

    assert.equal(report.downloads, 0);
    assert.equal(report.reloaded, false);
    assert.ok(report.results.every((result) => result.done === 'nothing' && !result.failure));
    assert.equal(cli.code, 0);
    assert.equal(cli.stdout, '');
  });

  describe('refuses what does not verify; nginx keeps serving the previous certificate', () => {
    const other = newKey();
    const cases: { name: string; plant: (domain: string, good: { chain: string; key: string }) => { chain: string; key: string }; reason: RegExp }[] = [
      { name: 'a mismatched pair', plant: (_d, good) => ({ chain: good.chain, key: other.pem }), reason: /public key does not match the domain key/ },
      { name: 'a truncated certificate', plant: (_d, good) => ({ chain: good.chain.slice(0, 400), key: good.key }), reason: /no certificate in the PEM text|not a readable/ },
      { name: 'an expired certificate', plant: (domain) => expiredPair(domain), reason: /has expired/ },
      { name: 'a certificate for another domain', plant: (_d, good) => ({ chain: good.chain, key: good.key }), reason: /does not cover/ },
    ];
    for (const { name, plant, reason } of cases) {
      test(`refuses ${name}, exits non-zero naming the domain and the reason`, async () => {
        const { harness, domains, setup } = await issuedDomains(2, 'refuse');
        const [domain, donor] = domains as [string, string];
        await renewAllOf(harness);
        runAgent(state, setup);
        const servedBefore = installedSerial(setup.nginx.certsDir, domain);
        assert.equal(await eventuallyServed(domain, servedBefore), servedBefore);
        const source = name.includes('another domain') ? donor : domain;
        const good = { chain: (await getText(s3, harness.bucket, `${source}/domain.crt`)) ?? '', key: (await getText(s3, harness.bucket, `${source}/domain.key`)) ?? '' };
        const planted = plant(domain, good);
        await plantPair(state, harness.bucket, domain, planted.chain, planted.key);
        await writeManifest(state, harness.bucket);

        const result = runAgent(state, { ...setup, trustedRootsFile: rootsWithTestCa(setup.trustedRootsFile) });

        assert.equal(result.code, 1);
        assert.match(result.stdout, new RegExp(`FAILED ${domain.replace(/\./g, '\\.')}: refused: `));
        assert.match(result.stdout, reason);
        assert.equal(installedSerial(setup.nginx.certsDir, domain), servedBefore);
        assert.equal(await eventuallyServed(domain, servedBefore), servedBefore);
      });
    }
  });

  test('a hostile folder name in the bucket writes nothing outside the certificates directory', async () => {
    const { harness, setup } = await issuedDomains(1, 'hostile');
    const outside = dirname(setup.nginx.certsDir);
    const before = readdirSync(outside).sort();
    for (const key of ['../escape/domain.crt', '..%2Fescape/domain.crt', 'UPPER.test/domain.crt', '.versions/domain.crt', 'a b.test/domain.key']) {
      await putText(s3, harness.bucket, key, 'x');
    }

    const result = runAgent(state, setup);

    assert.equal(result.code, 1);
    assert.match(result.stdout, /FAILED \.\.: refused folder name/);
    assert.match(result.stdout, /FAILED UPPER\.test: refused folder name: contains uppercase/);
    assert.deepEqual(readdirSync(outside).sort(), before);
    assert.equal(existsSync(join(setup.nginx.certsDir, '..', 'escape')), false);
    assert.equal(existsSync(join(setup.nginx.certsDir, 'UPPER.test')), false);
  });

  test('nginx -t failing leads to no reload and the previous files restored', async () => {
    const { harness, domains, setup } = await issuedDomains(1, 'ngxtest');
    const [domain] = domains as [string];
    runAgent(state, setup);
    const placeholderSerial = installedSerial(setup.nginx.certsDir, domain);
    await renewAllOf(harness);
    const broken = join(state.nginx.sitesDir, 'zz-broken.conf');
    writeFileSync(broken, 'server { listen 127.0.0.1:1 ssl; this_is_not_a_directive; }\n');
    try {
      const result = runAgent(state, setup);

      assert.equal(result.code, 1);
      assert.match(result.stdout, /nginx rejected the configuration, previous files restored, not reloaded/);
      assert.match(result.stdout, new RegExp(`FAILED ${domain.replace(/\./g, '\\.')}: not installed: nginx rejected the configuration with it`), 'the domain held back is named');
      assert.doesNotMatch(result.stdout, new RegExp(`^installed ${domain}`, 'm'), 'a restored pair is not reported as installed');
      assert.match(result.stdout, /nginx not reloaded/);
      assert.equal(installedSerial(setup.nginx.certsDir, domain), placeholderSerial);
      assert.equal(await eventuallyServed(domain, placeholderSerial), placeholderSerial);
    } finally {
      rmSync(broken);
    }
    const retry = runAgent(state, setup);
    assert.equal(retry.code, 0, retry.stdout);
    assert.equal(installedSerial(setup.nginx.certsDir, domain), await statusSerial(harness.bucket, domain));
  });

  test('nginx -t failing after replacing a plain directory from before the agent puts that directory\'s pair back', async () => {
    const { harness, domains, sites, setup } = await issuedDomains(1, 'legacy');
    const [domain] = domains as [string];
    const dir = join(setup.nginx.certsDir, domain);
    runAgent(state, setup);
    const legacySerial = installedSerial(setup.nginx.certsDir, domain);
    const legacy = { crt: readFileSync(join(dir, 'domain.crt')), key: readFileSync(join(dir, 'domain.key')) };
    rmSync(dir);
    mkdirSync(dir);
    writeFileSync(join(dir, 'domain.crt'), legacy.crt);
    writeFileSync(join(dir, 'domain.key'), legacy.key, { mode: 0o600 });
    await renewAllOf(harness);
    const broken = join(state.nginx.sitesDir, 'zz-broken.conf');
    writeFileSync(broken, 'server { listen 127.0.0.1:1 ssl; this_is_not_a_directive; }\n');
    let result;
    try {
      result = runAgent(state, setup);
    } finally {
      rmSync(broken);
      if (!existsSync(join(dir, 'domain.crt'))) rmSync(sites[0] as string, { force: true }); // keep nginx -t passing for the other tests
    }
    const nginxTest = spawnSync('nginx', ['-t', '-q', '-c', state.nginx.confFile], { encoding: 'utf8' });

    assert.equal(result.code, 1);
    assert.match(result.stdout, /nginx rejected the configuration, previous files restored/);
    assert.equal(existsSync(join(dir, 'domain.crt')), true, 'the legacy pair is back in place');
    assert.equal(installedSerial(setup.nginx.certsDir, domain), legacySerial);
    assert.equal(nginxTest.status, 0, nginxTest.stderr);
  });

  test('a failed reload leaves the domain unconfirmed: the next run reloads and nginx serves the new serial', async () => {
    const { harness, domains, setup } = await issuedDomains(1, 'reloadfail');
    const [domain] = domains as [string];
    const expected = await placeholdersThenIssued(harness, setup, domain);

    const failedReload = runAgent(state, setup, ['--reload-command', 'false']);
    const next = runAgent(state, setup);

    assert.equal(failedReload.code, 1);
    assert.match(failedReload.stdout, /FAILED reload failed/);
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.match(next.stdout, new RegExp(`confirming ${domain}: serial ${expected}`));
    assert.match(next.stdout, /nginx reloaded/);
    assert.equal(await eventuallyServed(domain, expected), expected);
  });

  test('a placeholder whose reload failed is reloaded by the next run, while the bucket still has no certificate', async () => {
    const { domains, setup } = await issuedDomains(1, 'phreload');
    const [domain] = domains as [string];

    const failedReload = runAgent(state, setup, ['--reload-command', 'false']);
    const next = runAgent(state, setup);
    const later = runAgent(state, setup);

    assert.equal(failedReload.code, 1);
    assert.match(failedReload.stdout, new RegExp(`placeholder ${domain}`));
    assert.match(failedReload.stdout, /FAILED reload failed/);
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.match(next.stdout, new RegExp(`confirming ${domain}: placeholder serial ${installedSerial(setup.nginx.certsDir, domain)}`));
    assert.match(next.stdout, /nginx reloaded/);
    assert.equal(await eventuallyServed(domain, installedSerial(setup.nginx.certsDir, domain)), installedSerial(setup.nginx.certsDir, domain));
    assert.equal(later.code, 0);
    assert.equal(later.stdout, '', 'once reloaded, the placeholder is left alone');
  });

  test('a www. name another server block answers is a notice; the domain\'s own name confirms the pair', async () => {
    const { harness, domains, sites, setup } = await issuedDomains(1, 'wwwelse');
    const [domain] = domains as [string];
    const [site] = sites as [string];
    writeFileSync(site, readFileSync(site, 'utf8').replace(`server_name ${domain} www.${domain};`, `server_name ${domain};`));
    const expected = await placeholdersThenIssued(harness, setup, domain);
    const quick = ['--served-check-seconds', '1'];

    const first = runAgent(state, setup, quick);
    const second = runAgent(state, setup, quick);

    assert.equal(first.code, 0, first.stdout);
    assert.match(first.stdout, new RegExp(`installed ${domain}: serial ${expected}`));
    assert.match(first.stdout, new RegExp(`NOTICE ${domain.replace(/\./g, '\\.')}: nginx still serves .* for www\\.${domain.replace(/\./g, '\\.')} after the reload, not ${expected} \\(does another server block answer`));
    assert.equal(await eventuallyServed(domain, expected), expected);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.equal(second.stdout, '', 'the pair was recorded: the next run has nothing to do');
  });

  test('a placeholder never confirmed reloaded is reloaded even while the bucket\'s certificate is refused', async () => {
    const { harness, domains, setup } = await issuedDomains(1, 'phrefused');
    const [domain] = domains as [string];
    const failedReload = runAgent(state, setup, ['--reload-command', 'false']);
    const placeholderSerial = installedSerial(setup.nginx.certsDir, domain);
    await renewAllOf(harness);
    const good = (await getText(s3, harness.bucket, `${domain}/domain.crt`)) ?? '';
    await plantPair(state, harness.bucket, domain, good, newKey().pem);
    await writeManifest(state, harness.bucket);

    const next = runAgent(state, setup);
    const later = runAgent(state, setup);

    assert.equal(failedReload.code, 1);
    assert.equal(next.code, 1);
    assert.match(next.stdout, new RegExp(`confirming ${domain}: placeholder serial ${placeholderSerial}`));
    assert.match(next.stdout, new RegExp(`FAILED ${domain.replace(/\./g, '\\.')}: refused: .*public key does not match the domain key`));
    assert.match(next.stdout, /1 failure\(s\)/, 'the domain counts once');
    assert.match(next.stdout, /nginx reloaded/);
    assert.equal(installedSerial(setup.nginx.certsDir, domain), placeholderSerial, 'the placeholder stays');
    assert.equal(await eventuallyServed(domain, placeholderSerial), placeholderSerial);
    assert.equal(later.code, 1, 'still refused');
    assert.match(later.stdout, /nginx not reloaded/);
  });

  test('a domain no server block uses is installed and reported once, without a reload; a server block added later gets the next renewal', async () => {
    const harness = await renewHarness();
    const domain = `${uniqueLabel('nosite')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    const setup = agentSetup(harness.bucket, pebbleRoot(state), state.nginx);
    const first = runAgent(state, setup);
    await renewAllOf(harness);

    const installed = runAgent(state, setup);
    const quiet = runAgent(state, setup);
    sitesWritten.push(writeSite(state.nginx, domain));
    await harness.run({ domains: [domain], force: true });
    const expected = await statusSerial(harness.bucket, domain);
    const withSite = runAgent(state, setup);

    const unused = new RegExp(`NOTICE ${domain.replace(/\./g, '\\.')}: installed, but no server block in nginx's configuration uses \\S+/${domain.replace(/\./g, '\\.')}/domain\\.crt, and nginx serves no certificate for ${domain.replace(/\./g, '\\.')}; nginx was not reloaded for it`);
    assert.equal(first.code, 0, first.stdout);
    assert.match(first.stdout, unused, 'the placeholder too');
    assert.match(first.stdout, /nginx not reloaded/);
    assert.equal(installed.code, 0, installed.stdout);
    assert.match(installed.stdout, new RegExp(`installed ${domain}`));
    assert.match(installed.stdout, unused);
    assert.match(installed.stdout, /nginx not reloaded/);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stdout, '', 'reported once, not every run');
    assert.equal(withSite.code, 0, withSite.stdout + withSite.stderr);
    assert.match(withSite.stdout, /nginx reloaded/);
    assert.equal(await eventuallyServed(domain, expected), expected);
  });

  test('a pair installed by a run that never reloaded (--install-only, or killed) is reloaded by the next run', async () => {
    const { harness, domains, setup } = await issuedDomains(1, 'adopt');
    const [domain] = domains as [string];
    const expected = await placeholdersThenIssued(harness, setup, domain);
    const unreloaded = runAgent(state, setup, ['--install-only']);
    const servedBefore = (await servedCertificate(state.nginx.httpsPort, domain)).serialNumber.toLowerCase();

    const next = runAgent(state, setup);

    assert.equal(unreloaded.code, 0, unreloaded.stdout);
    assert.match(unreloaded.stdout, new RegExp(`installed ${domain}`));
    assert.match(unreloaded.stdout, /nginx not reloaded/);
    assert.equal(installedSerial(setup.nginx.certsDir, domain), expected);
    assert.notEqual(servedBefore, expected, 'nginx was not reloaded by the first run');
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.match(next.stdout, new RegExp(`confirming ${domain}: serial ${expected}`));
    assert.match(next.stdout, /nginx reloaded/);
    assert.equal(await eventuallyServed(domain, expected), expected);
  });

  test('a lost state file costs one reload, and nothing is downloaded twice after it', async () => {
    const { harness, domains, setup } = await issuedDomains(1, 'lost');
    const [domain] = domains as [string];
    const expected = await placeholdersThenIssued(harness, setup, domain);
    runAgent(state, setup);
    rmSync(setup.stateFile);

    const after = runAgent(state, setup);
    const quiet = runAgent(state, setup);

    assert.equal(after.code, 0, after.stdout);
    assert.match(after.stdout, new RegExp(`confirming ${domain}: serial ${expected}`));
    assert.equal(quiet.stdout, '');
  });
});

describe('host sync agent with an nginx of its own', () => {
  test('killed at any point while installing, it leaves every domain with a consistent pair, and later runs finish the job', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const root = testCa();
    const domains = Array.from({ length: 24 }, (_, i) => `${uniqueLabel(`kill${i}`)}.test`);
    const planted = new Map<string, string>();
    for (const domain of domains) {
      planted.set(domain, await plantFreshPair(harness.bucket, domain, root, 0));
      nginx.addSite(domain);
    }
    const setup = agentSetup(harness.bucket, root.pem, nginx);
    const upToDate = () => domains.filter((domain) => servedFrom(nginx.certsDir, domain) === planted.get(domain)).length;

    const progress: number[] = [];
    for (let round = 0; round < 12; round += 1) {
      const child = startAgent(state, setup);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Even rounds kill as soon as one more domain is installed (mid-install); odd rounds at a growing delay.
      const before = upToDate();
      if (round % 2 === 0) await until(() => upToDate() > before || child.exitCode !== null, 5000);
      else await new Promise((resolve) => setTimeout(resolve, 150 + round * 60));
      child.kill('SIGKILL');
      await exited;
      assertConsistentPairs(nginx.certsDir);
      progress.push(upToDate());
      if (round % 3 === 2) for (const domain of domains.slice(0, 4)) planted.set(domain, await plantFreshPair(harness.bucket, domain, root, round + 1));
    }
    const final = runAgent(state, setup);

    assert.ok(progress.some((count) => count > 0 && count < domains.length), `a kill landed mid-install (domains up to date after each round: ${progress.join(', ')})`);
    assert.equal(final.code, 0, final.stdout);
    assertConsistentPairs(nginx.certsDir);
    assert.equal(upToDate(), domains.length);
    for (const domain of domains) assert.equal((await servedCertificate(nginx.httpsPort, domain)).serialNumber.toLowerCase(), planted.get(domain), `nginx serves ${domain}'s pair`);
  });

  test('a domain removed from the bucket stays installed, unless --prune is given and nginx no longer uses it', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const [kept, removed] = [`${uniqueLabel('kept')}.test`, `${uniqueLabel('gone')}.test`];
    const sites = new Map<string, string>();
    for (const domain of [kept, removed]) {
      await addDomainFolder(s3, harness.bucket, domain);
      sites.set(domain, nginx.addSite(domain));
    }
    const setup = agentSetup(harness.bucket, testCa().pem, nginx);
    runAgent(state, setup);
    await s3.send(new DeleteObjectCommand({ Bucket: harness.bucket, Key: `${removed}/` }));

    const plain = runAgent(state, setup);
    const stillThere = existsSync(join(nginx.certsDir, removed, 'domain.crt'));
    const refused = runAgent(state, setup, ['--prune']);
    const keptWhileUsed = existsSync(join(nginx.certsDir, removed, 'domain.crt'));
    rmSync(sites.get(removed) as string);
    const pruned = runAgent(state, setup, ['--prune']);
    const quiet = runAgent(state, setup, ['--prune']);

    assert.equal(plain.code, 0);
    assert.equal(plain.stdout, '', 'without --prune, a domain that left the bucket is neither touched nor reported');
    assert.equal(stillThere, true);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, new RegExp(`FAILED ${removed.replace(/\./g, '\\.')}: not pruned: nginx's configuration still uses \\S+/domain\\.crt \\(nginx -T\\): remove its server block and reload nginx first`));
    assert.doesNotMatch(refused.stdout, /^pruned /m);
    assert.equal(keptWhileUsed, true, 'the pair nginx uses stays');
    assert.equal(pruned.code, 0, pruned.stdout);
    assert.match(pruned.stdout, new RegExp(`pruned ${removed}`));
    assert.match(pruned.stdout, /nginx not reloaded/, 'nothing nginx uses changed');
    assert.equal(existsSync(join(nginx.certsDir, removed)), false);
    assert.equal(existsSync(join(nginx.certsDir, '.versions', removed)), false);
    assert.equal(existsSync(join(nginx.certsDir, kept, 'domain.crt')), true);
    assert.equal(quiet.stdout, '');
  });

  test('a run while another live run holds the lock does nothing; a lock left by a dead process is taken over', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const domain = `${uniqueLabel('locked')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    nginx.addSite(domain);
    const setup = agentSetup(harness.bucket, pebbleRoot(state), nginx);
    runAgent(state, setup);
    rmSync(join(nginx.certsDir, domain), { recursive: true });
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)', 'sync-agent.js'], { stdio: 'ignore' });
    try {
      writeFileSync(setup.lockFile, `${holder.pid}\n`);

      const blocked = runAgent(state, setup);
      writeFileSync(setup.lockFile, '999999999\n');
      const takenOver = runAgent(state, setup);

      assert.equal(blocked.code, 0);
      assert.match(blocked.stdout, /another run holds the lock/);
      assert.equal(takenOver.code, 0, takenOver.stdout);
      assert.match(takenOver.stdout, new RegExp(`placeholder ${domain}`));
      assert.equal(existsSync(setup.lockFile), false, 'the lock is released');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  test('refuses a bucket certificate issued before the installed one (a rollback) and keeps the installed one', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const domain = `${uniqueLabel('rollback')}.test`;
    nginx.addSite(domain);
    const setup = agentSetup(harness.bucket, testCa().pem, nginx);
    const current = await plantPairValid(harness.bucket, domain, -2 * DAY, 60 * DAY);
    runAgent(state, setup);
    await plantPairValid(harness.bucket, domain, -10 * DAY, 80 * DAY);

    const result = runAgent(state, setup);

    assert.equal(result.code, 1);
    assert.match(result.stdout, new RegExp(`FAILED ${domain.replace(/\./g, '\\.')}: refused: rollback: the bucket's certificate was issued .* before the installed one`));
    assert.equal(installedSerial(nginx.certsDir, domain), current);
    assert.equal((await servedCertificate(nginx.httpsPort, domain)).serialNumber.toLowerCase(), current);
  });

  test('installs a newer certificate even when it expires sooner than the installed one (a shorter lifetime)', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const domain = `${uniqueLabel('shorter')}.test`;
    nginx.addSite(domain);
    const setup = agentSetup(harness.bucket, testCa().pem, nginx);
    await plantPairValid(harness.bucket, domain, -2 * DAY, 80 * DAY);
    runAgent(state, setup);
    const shorter = await plantPairValid(harness.bucket, domain, -DAY / 24, 6 * DAY);

    const result = runAgent(state, setup);

    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, new RegExp(`installed ${domain}: serial ${shorter}`));
    assert.equal(installedSerial(nginx.certsDir, domain), shorter);
  });

  test('--prune removes a plain directory from before the agent', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const removed = `${uniqueLabel('plain')}.test`;
    await addDomainFolder(s3, harness.bucket, removed);
    const setup = agentSetup(harness.bucket, testCa().pem, nginx);
    runAgent(state, setup);
    const dir = join(nginx.certsDir, removed);
    const copy = `${dir}.copy`;
    cpSync(dir, copy, { recursive: true, dereference: true });
    rmSync(dir);
    rmSync(join(nginx.certsDir, '.versions', removed), { recursive: true });
    cpSync(copy, dir, { recursive: true });
    rmSync(copy, { recursive: true });
    await s3.send(new DeleteObjectCommand({ Bucket: harness.bucket, Key: `${removed}/` }));

    const pruned = runAgent(state, setup, ['--prune']);

    assert.equal(lstatSync(join(nginx.certsDir, '.versions')).isDirectory(), true);
    assert.equal(pruned.code, 0, pruned.stdout + pruned.stderr);
    assert.match(pruned.stdout, new RegExp(`pruned ${removed}`));
    assert.equal(existsSync(dir), false);
    assert.equal(existsSync(join(nginx.certsDir, '.versions', removed)), false);
  });

  test('a pruned domain whose files cannot be removed is reported once, and the run exits non-zero', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const removed = `${uniqueLabel('stuck')}.test`;
    await addDomainFolder(s3, harness.bucket, removed);
    const setup = agentSetup(harness.bucket, testCa().pem, nginx);
    runAgent(state, setup);
    await s3.send(new DeleteObjectCommand({ Bucket: harness.bucket, Key: `${removed}/` }));

    // Forced fault: root removes anything here, so the removal is made to fail in the context.
    const report = await syncInProcess(state, setup, ['--prune'], (ctx) => ({
      ...ctx,
      files: Object.assign(Object.create(ctx.files) as typeof ctx.files, { remove: () => Promise.reject(new Error('EACCES: permission denied')) }),
    }));

    assert.deepEqual(report.pruned, []);
    assert.deepEqual(report.results.filter((result) => result.failure).map((result) => result.domain), [removed]);
    assert.match(report.results.find((result) => result.domain === removed)?.failure ?? '', /pruning: .*EACCES/);
    assert.equal(syncFailed(report), true);
  });
});

describe('host sync agent: what nginx uses, and what is about to lapse', () => {
  test('a server block that reaches the pair through a symlink of its own counts as using it: the renewal is reloaded and confirmed', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const domain = `${uniqueLabel('linked')}.test`;
    const links = join(dirname(nginx.sitesDir), 'links');
    mkdirSync(links);
    symlinkSync(join(nginx.certsDir, domain), join(links, domain));
    writeSite({ ...nginx, certsDir: links }, domain);
    const setup = agentSetup(harness.bucket, testCa().pem, nginx);
    const serial = await plantPairValid(harness.bucket, domain, -DAY, 60 * DAY);

    const result = runAgent(state, setup);

    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, new RegExp(`installed ${domain}: serial ${serial}`));
    assert.doesNotMatch(result.stdout, new RegExp(`NOTICE ${domain.replace(/\./g, '\\.')}`));
    assert.match(result.stdout, /nginx reloaded/);
    assert.equal((await servedCertificate(nginx.httpsPort, domain)).serialNumber.toLowerCase(), serial);
  });

  test('a certificate with less than a quarter of its lifetime left, and nothing newer in the bucket, fails every run until a renewal arrives', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const domain = `${uniqueLabel('lapsing')}.test`;
    nginx.addSite(domain);
    const setup = agentSetup(harness.bucket, testCa().pem, nginx);
    await plantPairValid(harness.bucket, domain, -80 * DAY, 5 * DAY);

    const first = runAgent(state, setup);
    const second = runAgent(state, setup);
    const renewed = await plantPairValid(harness.bucket, domain, -DAY, 80 * DAY);
    const third = runAgent(state, setup);

    const lapsing = new RegExp(`FAILED ${domain.replace(/\./g, '\\.')}: the installed certificate expires \\S+ \\(5\\.0 days left, less than a quarter of its lifetime\\)`);
    assert.equal(first.code, 1, first.stdout);
    assert.match(first.stdout, new RegExp(`installed ${domain}`));
    assert.match(first.stdout, lapsing);
    assert.equal(second.code, 1, 'kept, and still failing');
    assert.match(second.stdout, lapsing);
    assert.match(second.stdout, /nginx not reloaded/);
    assert.equal(third.code, 0, third.stdout);
    assert.match(third.stdout, new RegExp(`installed ${domain}: serial ${renewed}`));
  });
});

describe('host sync agent for a subset of the bucket\'s domains', () => {
  test('syncs only the domains it is given: others are neither downloaded, installed nor reported', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const [mine, theirs, broken] = [`${uniqueLabel('mine')}.test`, `${uniqueLabel('theirs')}.test`, `${uniqueLabel('broken')}.test`];
    await plantPairValid(harness.bucket, mine, -DAY, 60 * DAY);
    await plantPairValid(harness.bucket, theirs, -DAY, 60 * DAY);
    await plantPair(state, harness.bucket, broken, 'not a certificate', 'not a key');
    nginx.addSite(mine);
    const setup = agentSetup(harness.bucket, testCa().pem, nginx);
    const domainsFile = join(dirname(setup.stateFile), '..', 'domains');
    writeFileSync(domainsFile, `# this host serves\n${mine}\n`);

    const byFlag = await syncInProcess(state, setup, ['--domains', mine]);
    const byFile = runAgent(state, setup, ['--domains-file', domainsFile]);

    assert.deepEqual(byFlag.results.map((result) => result.domain), [mine]);
    assert.equal(byFlag.downloads, 3);
    assert.equal(byFlag.reloaded, true);
    assert.equal(byFile.code, 0, byFile.stdout + byFile.stderr);
    assert.equal(byFile.stdout, '', 'the same domain set: nothing to do, nothing reported');
    assert.equal(existsSync(join(nginx.certsDir, theirs)), false);
    assert.equal(existsSync(join(nginx.certsDir, broken)), false);
  });

  test('an unknown domain in --domains, or a malformed one, is an error that names it, and nothing changes on disk', async (t) => {
    const nginx = await startTestNginx(t, state);
    const harness = await renewHarness();
    const known = `${uniqueLabel('known')}.test`;
    await addDomainFolder(s3, harness.bucket, known);
    const setup = agentSetup(harness.bucket, testCa().pem, nginx);
    const unknown = `${uniqueLabel('unknown')}.test`;

    const missing = runAgent(state, setup, ['--domains', `${known},${unknown}`]);
    const malformed = runAgent(state, setup, ['--domains', `${known},../etc`]);

    assert.equal(missing.code, 2);
    assert.match(missing.stderr, new RegExp(`--domains: ${unknown.replace(/\./g, '\\.')}: no such folder in the certificates bucket \\(nothing was changed\\)`));
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /--domains: "\.\.\/etc" is not a domain name/);
    assert.deepEqual(readdirSync(nginx.certsDir), [], 'no placeholder either');
    assert.equal(existsSync(setup.stateFile), false);
  });
});

let ca: ReturnType<typeof issue> | undefined;
/** A throw-away CA for certificates the renew function would never store (expired ones, many at once). */
function testCa() {
  ca ??= issue({ commonName: 'Sync Test Root', ca: true, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() + 400 * DAY), key: newKey() });
  return ca;
}

function expiredPair(domain: string): { chain: string; key: string } {
  const key = newKey();
  const leaf = issue({ commonName: domain, names: [domain, `www.${domain}`], ca: false, notBefore: new Date(Date.now() - 100 * DAY), notAfter: new Date(Date.now() - 10 * DAY), key, issuer: testCa() });
  return { chain: chainPem(leaf), key: key.pem };
}

function rootsWithTestCa(file: string): string {
  const combined = `${file}.with-test-ca.pem`;
  writeFileSync(combined, `${readFileSync(file, 'utf8')}\n${testCa().pem}`);
  return combined;
}

/** Plants a renewed pair issued later than any planted before it (a minute per round), and returns its serial. */
async function plantFreshPair(bucket: string, domain: string, root: ReturnType<typeof issue>, round: number): Promise<string> {
  const key = newKey();
  const leaf = issue({ commonName: domain, names: [domain], ca: false, notBefore: new Date(Date.now() - DAY + round * 60_000), notAfter: new Date(Date.now() + 60 * DAY), key, issuer: root });
  await plantPair(state, bucket, domain, chainPem(leaf), key.pem);
  return new X509Certificate(leaf.pem).serialNumber.toLowerCase();
}

/** Plants a pair from the test CA valid from now + `fromMs` to now + `untilMs`, and returns its serial. */
async function plantPairValid(bucket: string, domain: string, fromMs: number, untilMs: number): Promise<string> {
  const key = newKey();
  const leaf = issue({ commonName: domain, names: [domain], ca: false, notBefore: new Date(Date.now() + fromMs), notAfter: new Date(Date.now() + untilMs), key, issuer: testCa() });
  await plantPair(state, bucket, domain, chainPem(leaf), key.pem);
  return new X509Certificate(leaf.pem).serialNumber.toLowerCase();
}

/** Returns the serial of the certificate installed for `domain`, or null when there is none. */
function servedFrom(certsDir: string, domain: string): string | null {
  try {
    return installedSerial(certsDir, domain);
  } catch {
    return null;
  }
}

/** Polls `condition` every few milliseconds until it holds or `timeoutMs` passes. */
async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 2));
}

function assertConsistentPairs(certsDir: string): void {
  if (!existsSync(certsDir)) return;
  for (const domain of readdirSync(certsDir).filter((name) => !name.startsWith('.'))) {
    const dir = join(certsDir, domain);
    const crt = join(dir, 'domain.crt');
    const key = join(dir, 'domain.key');
    assert.equal(existsSync(crt), existsSync(key), `${domain}: one file of the pair is missing`);
    if (!existsSync(crt)) continue;
    assert.ok(new X509Certificate(readFileSync(crt)).checkPrivateKey(createPrivateKey(readFileSync(key))), `${domain}: mismatched pair`);
  }
}
