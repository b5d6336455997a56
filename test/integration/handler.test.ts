/**
 * The renew Lambda handler in-process, as Lambda calls it: configuration from the environment (read
 * once per process, as in a warm container), a context with a request id and the time left, the
 * SDK clients it builds itself, and its console output (the log and the EMF metric lines, which
 * is what CloudWatch receives). Lambda's event source cannot run here: the events are the ones the
 * EventBridge rules in serverless.yml send.
 */

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { handler } from '../../functions/renew/handler.js';
import { writeSite } from '../../scripts/replica/sites.js';
import { addDomainFolder, pebbleRoot, putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { createCertificatesBucket } from '../helpers/replica-clients.js';
import { replicaEnvironment } from '../helpers/renew-harness.js';
import { agentSetup, ensureAgentBuilt, runAgent } from '../helpers/sync-harness.js';
import { createTestTopic, type TestTopic } from '../helpers/topic.js';

const state = replicaState();
const s3 = s3Client(state);
const sites: string[] = [];
let bucket = '';
let domain = '';
let topic: TestTopic;
const savedEnv = { ...process.env };

before(async () => {
  ensureAgentBuilt();
  bucket = await createCertificatesBucket(s3);
  domain = `${uniqueLabel('handler')}.test`;
  topic = await createTestTopic(state);
  Object.assign(process.env, replicaEnvironment({ CERTIFICATES_BUCKET: bucket }), {
    ALARM_TOPIC_ARN: topic.arn,
    SERVICE_NAME: 'acme-certificates-local',
    AWS_ENDPOINT_URL: state.awsEndpoint,
    AWS_REGION: state.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });
});
after(() => {
  process.env = savedEnv;
  sites.forEach((site) => rmSync(site, { force: true }));
});

/** Calls the handler as Lambda does, returning its result or error and every console line it wrote. */
async function invoke(event: object): Promise<{ result?: Awaited<ReturnType<typeof handler>>; error?: Error; lines: string[] }> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (line: unknown) => void lines.push(String(line));
  const deadline = Date.now() + 900_000;
  try {
    const result = await handler(event, { awsRequestId: randomUUID(), functionName: 'acme-certificates-local-renew', getRemainingTimeInMillis: () => deadline - Date.now() });
    return { result, lines };
  } catch (error) {
    return { error: error as Error, lines };
  } finally {
    console.log = original;
  }
}

const metricsOf = (lines: string[]) => lines.filter((line) => line.startsWith('{"_aws"')).map((line) => JSON.parse(line) as Record<string, number>);
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the renew handler', () => {
  test('the scheduled event renews what is due, publishes the run\'s and the watch\'s metrics, and succeeds', async () => {
    await addDomainFolder(s3, bucket, domain);
    sites.push(writeSite(state.nginx, domain));
    const setup = agentSetup(bucket, pebbleRoot(state), state.nginx);
    runAgent(state, setup);

    const scheduled = await invoke({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
    const installed = runAgent(state, setup);
    const watch = await invoke({ mode: 'watch' });

    assert.equal(scheduled.error, undefined, scheduled.lines.join('\n'));
    assert.equal(scheduled.result?.run?.outcomes[0]?.outcome, 'renewed');
    const [run, served] = metricsOf(scheduled.lines);
    assert.deepEqual([run?.RunSucceeded, run?.Renewed, run?.Backlog, run?.Function], [1, 1, 0, 'acme-certificates-local-renew']);
    assert.equal(typeof served?.ServedLifetimeLeft, 'number');
    assert.equal(installed.code, 0, installed.stdout);
    assert.equal(watch.error, undefined, watch.lines.join('\n'));
    assert.deepEqual([watch.result?.run, watch.result?.items, watch.result?.watch.hostReports], [null, [], 1]);
    assert.deepEqual(metricsOf(watch.lines).map((record) => [record.RunSucceeded, record.ServedMismatch, record.StaleHosts, record.HostFailures]), [[undefined, 0, 0, 0]]);
    assert.deepEqual(await topic.received(), [], 'nothing to tell');
  });

  test('an hourly watch that finds a problem fails the invocation naming it, and tells the topic', async () => {
    await putText(s3, bucket, 'Not_A..Domain/config.json', '{}');

    const { error } = await invoke({ mode: 'watch' });
    const [message] = await topic.received();

    assert.match(error?.message ?? '', /^1 problem\(s\): folder "Not_A\.\.Domain": /);
    assert.match(message?.subject ?? '', /^acme-certificates-local: 1 problem\(s\): folder Not_A\.\.Domain invalid/);
    assert.match(message?.message ?? '', /Invalid folders:\n- folder "Not_A\.\.Domain": /);
  });

  test('a run that cannot list the certificates bucket still tells people, naming the step, and fails', async () => {
    // The bucket is versioned: every version goes before the bucket can.
    const { Versions = [], DeleteMarkers = [] } = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    const objects = [...Versions, ...DeleteMarkers].map(({ Key, VersionId }) => ({ Key, VersionId }));
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));

    const { error, lines } = await invoke({});
    const [message] = await topic.received();

    assert.match(error?.message ?? '', new RegExp(`writing s3://${escape(bucket)}/\\.attention\\.json`), 'keeping what was told fails last');
    assert.match(message?.message ?? '', new RegExp(`Failed runs:\\n- renewal run: stopped before renewing anything: listing s3://${escape(bucket)}/: NoSuchBucket[^\\n]*\\n- monitoring state: could not be read, so this message may repeat an earlier one`));
    assert.match(message?.message ?? '', /Not checked:\n- domains: the certificates bucket could not be listed: [^\n]+\n- host reports: the hosts' reports could not be listed/);
    assert.ok(lines.some((line) => /"message":"the renewal run stopped"/.test(line)));
    assert.ok(!lines.some((line) => /"RunSucceeded"/.test(line)), 'no run metrics for a run that did not run: the missed-run alarm counts it');
  });
});
