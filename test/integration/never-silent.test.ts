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
import { runMetrics, watchMetrics } from '../../functions/core/metrics.js';
import { addDomainFolder, getText, listKeys, pebbleRoot, putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness, type RenewHarness } from '../helpers/renew-harness.js';
import { agentSetup, ensureAgentBuilt, runAgent, type AgentSetup } from '../helpers/sync-harness.js';
import { createTestTopic, type TestTopic } from '../helpers/topic.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp.js';

const state = replicaState();
const s3 = s3Client(state);
const HOUR = 3_600_000;

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
    assert.equal(runMetrics(blocked.run?.counts as NonNullable<typeof blocked.run>['counts'], 'renew', new Date()).Backlog, 1);
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

  for (const damage of ['missing', 'corrupt'] as const) {
    test(`status.json ${damage} beside a good certificate is rewritten from the verified files, and a new host installs the real pair, not a placeholder`, async () => {
      const { harness, domain, topic, serial } = await servedDomain(`status${damage}`);
      if (damage === 'missing') await s3.send(new DeleteObjectCommand({ Bucket: harness.bucket, Key: `${domain}/status.json` }));
      else await putText(s3, harness.bucket, `${domain}/status.json`, '{"domain": "truncated');

      const result = await harness.cycle({}, { topic });
      const [message] = await topic.received();
      const status = JSON.parse((await getText(s3, harness.bucket, `${domain}/status.json`)) ?? '{}') as { serial: string; files: Record<string, string>; lastAttempt: { outcome: string; reason: string } };
      // A host set up after the damage, with a certificates directory of its own.
      const newHost = runAgent(state, agentSetup(harness.bucket, pebbleRoot(state), { ...state.nginx, certsDir: join(tempDir('new-host'), 'certs') }));

      assert.equal(result.run?.outcomes[0]?.outcome, 'repaired', JSON.stringify(result.run?.outcomes));
      assert.equal(status.serial, serial, 'the same certificate, no new order');
      assert.deepEqual(Object.keys(status.files).sort(), ['domain.crt', 'domain.csr', 'domain.key']);
      assert.deepEqual([status.lastAttempt.outcome, status.lastAttempt.reason], ['repaired', damage === 'missing' ? 'status.json was missing' : 'status.json could not be read']);
      assert.match(message?.message ?? '', new RegExp(`${escape(domain)}: status\\.json ${damage === 'missing' ? 'was missing' : 'could not be read'}; rewritten from the verified certificate and key \\(serial ${serial}\\)`));
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
    const metrics = watchMetrics(later.watch.summary, { stale: 1, behind: 1, failing: 0 }, 'renew', new Date());
    assert.equal(metrics.ServedMismatch, 2);
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
});
