/**
 * Never lapse silently: every state in which a certificate could lapse ends either with the domain
 * renewed and served, or with a failed run, a metric and a message that names it. Each case runs
 * on the replica: the renew workflow, the watch (TLS to the replica's nginx, the hosts' reports)
 * and the message, read from an SQS queue subscribed to an SNS topic in moto, as a person's
 * subscription receives it.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { after, before, describe, test } from 'node:test';
import { writeSite } from '../../scripts/replica/sites.js';
import { runFailed } from '../../functions/workflows/renew-all.js';
import { addDomainFolder, getText, listKeys, pebbleRoot, putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness, type RenewHarness } from '../helpers/renew-harness.js';
import { agentSetup, ensureAgentBuilt, plantPair, runAgent, type AgentSetup } from '../helpers/sync-harness.js';
import { chainPem, issue, newKey } from '../helpers/pki.js';
import { createTestTopic, type TestTopic } from '../helpers/topic.js';
import { rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp.js';

const state = replicaState();
const s3 = s3Client(state);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

before(() => ensureAgentBuilt());
const sites: string[] = [];
after(() => sites.forEach((site) => rmSync(site, { force: true })));

/** A fresh bucket with one domain that has an nginx site, its first certificate issued and installed by an agent. */
async function servedDomain(prefix: string): Promise<{ harness: RenewHarness; domain: string; setup: AgentSetup; topic: TestTopic; serial: string }> {
  const harness = await renewHarness();
  const domain = `${uniqueLabel(prefix)}.test`;
  await addDomainFolder(s3, harness.bucket, domain);
  sites.push(writeSite(state.nginx, domain));
  const setup = agentSetup(harness.bucket, pebbleRoot(state), state.nginx);
  runAgent(state, setup);
  const first = await harness.run();
  assert.equal(first.outcomes[0]?.outcome, 'renewed', JSON.stringify(first.outcomes));
  const installed = runAgent(state, setup);
  assert.equal(installed.code, 0, installed.stdout);
  return { harness, domain, setup, topic: await createTestTopic(state), serial: await serialOf(harness.bucket, domain) };
}

async function serialOf(bucket: string, domain: string): Promise<string> {
  return (JSON.parse((await getText(s3, bucket, `${domain}/status.json`)) ?? '{}') as { serial: string }).serial;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('never lapse silently', () => {
  test('a run killed mid-renewal leaves its lock: the next run reports the domain as backlog, naming the holder; a run told to break locks renews it', async () => {
    const { harness, domain, topic } = await servedDomain('killed');
    let holder = '';
    for (let attempt = 0; attempt < 3 && !holder; attempt += 1) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/renew-child.ts', harness.bucket, domain], { stdio: ['ignore', 'pipe', 'ignore'], env: process.env });
      const runId = new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && child.exitCode === null; await new Promise((resolve) => setTimeout(resolve, 10))) {
        if ((await listKeys(s3, harness.bucket, `${domain}/renew.lock`)).length > 0) break;
      }
      child.kill('SIGKILL');
      await exited;
      if ((await listKeys(s3, harness.bucket, `${domain}/renew.lock`)).length > 0) holder = await runId;
    }
    assert.ok(holder, 'a run was killed holding the lock');

    const blocked = await harness.cycle({ domains: [domain], force: true }, { topic });
    const [blockedMessage] = await topic.received();
    const broken = await harness.cycle({ domains: [domain], force: true, breakLocks: true }, { topic });
    const brokenMessages = await topic.received();

    const [outcome] = blocked.run?.outcomes ?? [];
    assert.equal(outcome?.outcome, 'skipped');
    assert.match(outcome?.reason ?? '', new RegExp(`another run holds the renewal lock: run ${escape(holder)}, since \\S+, until \\S+`));
    assert.equal(runFailed(blocked.run as NonNullable<typeof blocked.run>), true, 'a due domain left unrenewed fails the run');
    assert.deepEqual(blocked.metrics.map((record) => record.Backlog).filter((value) => value !== undefined), [1]);
    assert.match(blockedMessage?.subject ?? '', new RegExp(`${escape(domain)} due, not renewed`));
    assert.match(blockedMessage?.message ?? '', new RegExp(`Not renewed \\(backlog\\):\\n- ${escape(domain)}: due, not renewed: another run holds the renewal lock: run ${escape(holder)}`));
    assert.equal(broken.run?.outcomes[0]?.outcome, 'renewed', JSON.stringify(broken.run?.outcomes));
    assert.match(brokenMessages.map((message) => message.message).join('\n'), new RegExp(`${escape(domain)}: broke the lock as asked \\(held by run ${escape(holder)}`));
    assert.match(brokenMessages.at(-1)?.subject ?? '', /all clear/, 'the backlog is gone, and people hear so');
  });

  test('a lock whose expiry no run would set is taken over at once, the domain renewed, and the message says so', async () => {
    const { harness, domain, topic, serial } = await servedDomain('ghostlock');
    await putText(s3, harness.bucket, `${domain}/renew.lock`, JSON.stringify({ runId: 'ghost', acquiredAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3650 * 24 * HOUR).toISOString() }));

    const result = await harness.cycle({ domains: [domain], force: true }, { topic });
    const [message] = await topic.received();

    assert.equal(result.run?.outcomes[0]?.outcome, 'renewed', JSON.stringify(result.run?.outcomes));
    assert.notEqual(await serialOf(harness.bucket, domain), serial);
    assert.match(message?.message ?? '', new RegExp(`In this run:\\n- ${escape(domain)}: took over a lock whose expiry no run would set \\(held by run ghost`));
    assert.deepEqual(await listKeys(s3, harness.bucket, `${domain}/renew.lock`), [], 'and released it');
  });

  const damages = {
    missing: 'status\\.json was missing',
    corrupt: 'status\\.json could not be read',
    bare: 'status\\.json does not name the stored certificate \\(serial [0-9a-f]+\\)',
  } as const;
  for (const [damage, reason] of Object.entries(damages)) {
    test(`status.json ${damage} beside a good certificate is rewritten from the verified files, and a new host installs the real pair, not a placeholder`, async () => {
      const { harness, domain, topic, serial } = await servedDomain(`status${damage}`);
      if (damage === 'missing') await s3.send(new DeleteObjectCommand({ Bucket: harness.bucket, Key: `${domain}/status.json` }));
      else if (damage === 'corrupt') await putText(s3, harness.bucket, `${domain}/status.json`, '{"domain": "truncated');
      // What a failed run that could not read status.json records: an attempt, no certificate facts, no digests.
      else await putText(s3, harness.bucket, `${domain}/status.json`, JSON.stringify({ domain, names: [], serial: null, files: {}, lastAttempt: { at: new Date().toISOString(), runId: 'r', outcome: 'failed', step: 'load', reason: 'x' } }));

      const result = await harness.cycle({}, { topic });
      const [message] = await topic.received();
      const status = JSON.parse((await getText(s3, harness.bucket, `${domain}/status.json`)) ?? '{}') as { serial: string; files: Record<string, string>; lastAttempt: { outcome: string; reason: string } };
      // A host set up after the damage, with a certificates directory of its own.
      const newHost = runAgent(state, agentSetup(harness.bucket, pebbleRoot(state), { ...state.nginx, certsDir: join(tempDir('new-host'), 'certs') }));

      assert.equal(result.run?.outcomes[0]?.outcome, 'repaired', JSON.stringify(result.run?.outcomes));
      assert.equal(status.serial, serial, 'the same certificate, no new order');
      assert.deepEqual(Object.keys(status.files).sort(), ['domain.crt', 'domain.csr', 'domain.key']);
      assert.equal(status.lastAttempt.outcome, 'repaired');
      assert.match(status.lastAttempt.reason, new RegExp(`^${reason}$`));
      assert.match(message?.message ?? '', new RegExp(`${escape(domain)}: ${reason}; rewritten from the verified certificate and key \\(serial ${serial}\\)`));
      assert.match(newHost.stdout, new RegExp(`installed ${escape(domain)}: serial ${serial}`));
      assert.doesNotMatch(newHost.stdout, /^placeholder /m);
    });
  }

  test('the agent stopped after a renewal: hours later the watch names the silent host, the host behind, and the names still serving the old certificate', async () => {
    const { harness, domain, topic, serial: old } = await servedDomain('stopped');
    const renewed = await harness.run({ domains: [domain], force: true });
    assert.equal(renewed.outcomes[0]?.outcome, 'renewed');
    const serial = await serialOf(harness.bucket, domain);

    const soon = await harness.cycle({ mode: 'watch' }, { topic });
    const later = await harness.cycle({ mode: 'watch' }, { topic, now: new Date(Date.now() + 4 * HOUR) });
    const messages = await topic.received();

    assert.deepEqual(soon.items, [], 'within the grace a host needs, nothing is wrong yet');
    const kinds = later.items.map((item) => item.key.split(':').slice(0, 2).join(':')).sort();
    assert.deepEqual(kinds, ['host:behind', 'host:stale', 'served:mismatch', 'served:mismatch']);
    const metrics = later.metrics.at(-1) ?? {};
    assert.deepEqual([metrics.ServedMismatch, metrics.StaleHosts, metrics.HostsBehind, metrics.HostFailures], [2, 1, 1, 0]);
    assert.match(later.failure ?? '', /4 problem\(s\)/, 'the watch fails');
    assert.equal(messages.length, 1);
    const [message] = messages;
    assert.match(message?.message ?? '', new RegExp(`- ${escape(domain)}: ${escape(domain)} serves serial ${old} \\([^)]*\\), not the stored serial ${serial}`));
    assert.match(message?.message ?? '', new RegExp(`- ${escape(domain)}: www\\.${escape(domain)} serves serial ${old}`));
    assert.match(message?.message ?? '', /Hosts:\n- host \S+ \(\S+\) has not reported since \S+ \(4 hours ago\): is its agent running\?/);
    assert.match(message?.message ?? '', new RegExp(`- host \\S+ \\(\\S+\\) serves ${escape(domain)} serial ${old}, not serial ${serial}`));
  });

  test('nginx still serves the old certificate because the reload fails: the host reports its failure, and the watch names the names', async () => {
    const { harness, domain, setup, topic, serial: old } = await servedDomain('noreload');
    await harness.run({ domains: [domain], force: true });
    const failed = runAgent(state, setup, ['--reload-command', 'false']);
    assert.equal(failed.code, 1);

    const later = await harness.cycle({ mode: 'watch' }, { topic, now: new Date(Date.now() + 4 * HOUR) });
    const [message] = await topic.received();

    assert.ok(later.items.some((item) => item.key === `served:mismatch:${domain}`));
    assert.match(message?.message ?? '', new RegExp(`${escape(domain)} serves serial ${old}`));
    assert.match(message?.message ?? '', new RegExp(`host \\S+ \\(\\S+\\), run of \\S+: ${escape(domain)}: installed, but not served yet: the reload failed`));
  });

  test('a host that went silent is named hours later; when it reports again, people hear the all clear', async () => {
    const { harness, setup, topic } = await servedDomain('silent');

    const silent = await harness.cycle({ mode: 'watch' }, { topic, now: new Date(Date.now() + 4 * HOUR) });
    runAgent(state, setup);
    const back = await harness.cycle({ mode: 'watch' }, { topic });
    const [alarm, clear] = await topic.received();

    assert.deepEqual(silent.items.map((item) => item.key.split(':').slice(0, 2).join(':')), ['host:stale']);
    assert.match(alarm?.subject ?? '', /1 problem\(s\): host \S+ stale/);
    assert.deepEqual(back.items, []);
    assert.match(clear?.subject ?? '', /all clear/);
    assert.match(clear?.message ?? '', /Every problem reported before is gone\./);
  });

  test('a renewal run\'s backlog is still reported by the hourly watches until a renewal run clears it', async () => {
    const { harness, domain, topic } = await servedDomain('backlog');
    await putText(s3, harness.bucket, `${domain}/renew.lock`, JSON.stringify({ runId: 'other-run', acquiredAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 10 * 60_000).toISOString() }));

    const blocked = await harness.cycle({ force: true }, { topic });
    const watch = await harness.cycle({ mode: 'watch' }, { topic });
    await s3.send(new DeleteObjectCommand({ Bucket: harness.bucket, Key: `${domain}/renew.lock` }));
    const cleared = await harness.cycle({}, { topic });
    const messages = await topic.received();

    assert.deepEqual([blocked, watch].map((result) => result.items.map((item) => item.key)), [[`backlog:${domain}`], [`backlog:${domain}`]]);
    assert.ok(watch.failure, 'the watch fails while the backlog lasts');
    assert.deepEqual(messages.map((message) => message.subject.split(': ')[1]), ['1 problem(s)', 'all clear'], 'told once when it began (not again each hour), and once when it cleared');
    assert.deepEqual(cleared.items, []);
    assert.equal(cleared.failure, null);
  });

  test('a certificate served with less than a quarter of its lifetime left is named by the watch, and the host that installed it fails', async () => {
    const harness = await renewHarness();
    const domain = `${uniqueLabel('lapsing')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    sites.push(writeSite(state.nginx, domain));
    const ca = issue({ commonName: 'Lapse Test Root', ca: true, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() + 400 * DAY), key: newKey() });
    const key = newKey();
    const leaf = issue({ commonName: domain, names: [domain, `www.${domain}`], ca: false, notBefore: new Date(Date.now() - 80 * DAY), notAfter: new Date(Date.now() + 10 * DAY), key, issuer: ca });
    await plantPair(state, harness.bucket, domain, chainPem(leaf), key.pem);
    const host = runAgent(state, agentSetup(harness.bucket, ca.pem, state.nginx));
    const topic = await createTestTopic(state);

    const result = await harness.cycle({ mode: 'watch' }, { topic });
    const [message] = await topic.received();

    assert.equal(host.code, 1, 'the agent installs it and fails: it is lapsing');
    assert.deepEqual(result.items.map((item) => item.key).sort(), [`host:failing:${result.watch.hosts[0]?.host}:`, `served:lapsing:${domain}`, `served:lapsing:www.${domain}`].sort());
    const serial = new X509Certificate(leaf.pem).serialNumber.toLowerCase();
    assert.match(message?.message ?? '', new RegExp(`Served certificates:\\n- ${escape(domain)}: ${escape(domain)} serves serial ${serial}, which expires \\S+ \\(10\\.0 days left, 11% of its lifetime\\)`));
    assert.ok(Number(result.metrics.at(-1)?.ServedLifetimeLeft) < 0.25, 'the lifetime metric is below the alarm threshold');
    assert.ok(result.failure);
  });

  test('people who cannot be told make the run fail, naming the topic', async () => {
    const { harness, domain } = await servedDomain('notopic');
    await putText(s3, harness.bucket, `${domain}/renew.lock`, JSON.stringify({ runId: 'other-run', acquiredAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 10 * 60_000).toISOString() }));
    const real = await createTestTopic(state);
    const missing = { ...real, arn: real.arn.replace(/[^:]+$/, uniqueLabel('no-such-topic')) };

    await assert.rejects(harness.cycle({ force: true }, { topic: missing }), new RegExp(`publishing to ${escape(missing.arn)}`));
  });
});
