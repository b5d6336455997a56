/**
 * What the AWS client costs one renewal (issue 12, for the users' decision on its last target; no
 * target of its own): the AWS requests the renew function makes to issue one certificate, in the
 * order it makes them, sent from a fresh node process as a cold Lambda sends them, by:
 *
 * - the function's clients: `@aws-sdk/client-s3`, `-ssm`, `-sns` and `-sqs`, made as
 *   functions/renew/wiring.ts makes them (adaptive retries, 8 tries, every failed try reported);
 * - the same, with lighter SDK settings (the middleware stack resolved once per command, checksums
 *   only where S3 requires them, region, FIPS and dual-stack given): what the SDK's own settings
 *   can save;
 * - aws-lite (`@aws-lite/client` with its S3, SSM, SNS and SQS plugins), a small AWS client
 *   written for Lambda's cold starts, installed only for this comparison (devDependencies).
 *
 * Each is bundled as the function is (scripts/build.mjs's esbuild settings and stubs, without the
 * source map) into a temporary directory and run as `node bundle.js` against the replica (moto):
 * whole process, spawn to exit, and the process's CPU; one round first unmeasured, then median of
 * 6, each client first in two of them. Before that, aws-lite's conditional writes are checked:
 * its S3 plugin passes If-None-Match and If-Match on without documenting them, and a comparison
 * with a client that sent them unconditionally would flatter it.
 *
 * The requests are the ones a traced single-certificate run made (2026-12-02): S3's 5 listings, 5
 * GETs (4 of them 404), 15 PUTs (4 conditional), 4 DELETEs (1 conditional), and SSM's one
 * GetParameter; here one after the other, where the run overlaps some: this measures the client,
 * not the run. SNS and SQS send nothing in that run, but their clients are made, as the function
 * makes them.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { replicaS3Client } from '../replica/provision.js';
import type { ReplicaState } from '../replica/state.js';
import { deleteBucket } from './bucket.js';
import { median } from './renewal-run.js';

const ROUNDS = 6;

/**
 * The requests, as [method, key, condition]. `folder/` stands for the domain's folder;
 * `none-match` sends If-None-Match: *, `match` If-Match with the ETag the key last had.
 */
const REQUESTS: [string, string, string][] = [
  ['LIST', '', ''], // the run's listing
  ['PUT', 'folder/renew.lock', 'none-match'], // the lock
  ['SSM', '', ''], // the account key
  ['GET', '.acme-account.json', ''], // the account record (404: a new bucket)
  ['LIST', 'folder/', ''], // the folder again, under the lock
  ['PUT', '.acme-account.json', ''],
  ['PUT', '.well-known/acme-challenge/probe', ''], // the preflight's probe
  ['DELETE', '.well-known/acme-challenge/probe', ''],
  ['GET', '.order-ledger.json', ''], // the order budget
  ['PUT', '.order-ledger.json', 'none-match'],
  ['PUT', '.well-known/acme-challenge/a', ''], // the two challenges
  ['PUT', '.well-known/acme-challenge/b', ''],
  ['DELETE', '.well-known/acme-challenge/a', ''],
  ['DELETE', '.well-known/acme-challenge/b', ''],
  ['PUT', 'folder/domain.key', ''], // the files, then status.json
  ['PUT', 'folder/domain.csr', ''],
  ['PUT', 'folder/signed.crt', ''],
  ['PUT', 'folder/intermediate.pem', ''],
  ['PUT', 'folder/domain.crt', ''],
  ['PUT', 'folder/status.json', ''],
  ['DELETE', 'folder/renew.lock', 'match'],
  ['LIST', '', 'folders'], // the watch
  ['GET', '.manifest.json', ''], // the manifest
  ['LIST', '.host-report.', ''],
  ['GET', 'folder/status.json', ''],
  ['LIST', '', ''],
  ['PUT', 'folder/status.json', 'match'],
  ['PUT', '.manifest.json', 'none-match'],
  ['GET', '.attention.json', ''], // what needs attention
  ['PUT', '.attention.json', ''],
];

/** Every entry reads BUCKET, PREFIX, PARAMETER and AWS_ENDPOINT_URL, sends REQUESTS in order, and says its CPU time at exit. */
const common = `
const { BUCKET: Bucket, PREFIX: prefix, PARAMETER: Name } = process.env;
const requests = ${JSON.stringify(REQUESTS)};
const etags = new Map();
// Each object is about the size of a status.json, and JSON, as its type says (aws-lite parses what is typed so).
const body = JSON.stringify({ text: 'x'.repeat(600) });
const condition = (kind, key) => (kind === 'none-match' ? { IfNoneMatch: '*' } : kind === 'match' ? { IfMatch: etags.get(key) } : {});
process.on('exit', () => { const usage = process.resourceUsage(); process.stderr.write('\\nCPU ' + (usage.userCPUTime + usage.systemCPUTime) / 1000 + '\\n'); });
const fail = (error) => { console.error(error && (error.message || error.name || String(error))); process.exit(1); };
`;

function sdkEntry(settings: string): string {
  return `
import { S3Client, ListObjectsV2Command, GetObjectCommand, PutObjectCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { SSMClient, GetParameterCommand } from '@aws-sdk/client-ssm';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsRetrySettings, reportAwsRetries } from './functions/adapters/aws-retries.js';
${common}
const options = { ...awsRetrySettings(8), endpoint: process.env.AWS_ENDPOINT_URL, ${settings} };
const clients = { s3: new S3Client({ ...options, forcePathStyle: true }), ssm: new SSMClient(options), sns: new SNSClient(options), sqs: new SQSClient(options) };
for (const client of Object.values(clients)) reportAwsRetries(client, () => undefined);
const { s3, ssm } = clients;
(async () => {
  for (const [method, key, kind] of requests) {
    const Key = prefix + key;
    if (method === 'SSM') await ssm.send(new GetParameterCommand({ Name, WithDecryption: true }));
    if (method === 'LIST') await s3.send(new ListObjectsV2Command({ Bucket, Prefix: Key, ...(kind === 'folders' ? { Delimiter: '/' } : {}) }));
    if (method === 'GET') await s3.send(new GetObjectCommand({ Bucket, Key })).then(async (answer) => { etags.set(key, answer.ETag); await answer.Body.transformToString(); }, (error) => { if (error.name !== 'NoSuchKey') throw error; });
    if (method === 'PUT') etags.set(key, (await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentType: 'application/json', ...condition(kind, key) }))).ETag);
    if (method === 'DELETE') await s3.send(new DeleteObjectCommand({ Bucket, Key, ...condition(kind, key) }));
  }
})().catch(fail);
`;
}

const ENTRIES: Record<string, string> = {
  'the function\'s SDK clients': sdkEntry(''),
  'the SDK, lighter settings': sdkEntry("cacheMiddleware: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', region: process.env.AWS_REGION, useFipsEndpoint: false, useDualstackEndpoint: false"),
  'aws-lite': `
import awsLite from '@aws-lite/client';
import s3Plugin from '@aws-lite/s3';
import ssmPlugin from '@aws-lite/ssm';
import snsPlugin from '@aws-lite/sns';
import sqsPlugin from '@aws-lite/sqs';
${common}
const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
(async () => {
  // 7 retries: 8 tries, as the function's clients make. Its S3 plugin passes If-None-Match and If-Match on, though it does not document them.
  const aws = await awsLite({ region: process.env.AWS_REGION, host: endpoint.hostname, port: Number(endpoint.port), protocol: endpoint.protocol.replace(':', ''), plugins: [s3Plugin, ssmPlugin, snsPlugin, sqsPlugin], retries: 7 });
  for (const [method, key, kind] of requests) {
    const Key = prefix + key;
    if (method === 'SSM') await aws.SSM.GetParameter({ Name, WithDecryption: true });
    if (method === 'LIST') await aws.S3.ListObjectsV2({ Bucket, Prefix: Key, ...(kind === 'folders' ? { Delimiter: '/' } : {}) });
    if (method === 'GET') await aws.S3.GetObject({ Bucket, Key }).then((answer) => etags.set(key, answer.ETag), (error) => { if (error.statusCode !== 404) throw error; });
    if (method === 'PUT') etags.set(key, (await aws.S3.PutObject({ Bucket, Key, Body: body, ContentType: 'application/json', ...condition(kind, key) })).ETag);
    if (method === 'DELETE') await aws.S3.DeleteObject({ Bucket, Key, ...condition(kind, key) });
  }
})().catch(fail);
`,
};

/**
 * Throws unless aws-lite's S3 plugin sends the conditions the function's writes carry: a second
 * create of one key (If-None-Match: *) and a delete with another ETag (If-Match) must be refused
 * (412), and a delete with the key's own ETag done. aws-lite sends the ETag without its quotes
 * (moto accepts that; real S3 is not checked here).
 */
async function checkAwsLiteConditions(state: ReplicaState, bucket: string): Promise<void> {
  // By name: @aws-lite/s3 has no type declarations.
  const load = (name: string) => import(name) as Promise<{ default: unknown }>;
  const awsLite = (await load('@aws-lite/client')).default as (config: Record<string, unknown>) => Promise<{ S3: Record<string, (params: Record<string, unknown>) => Promise<{ ETag?: string }>> }>;
  const s3Plugin = (await load('@aws-lite/s3')).default;
  const endpoint = new URL(state.awsEndpoint);
  const aws = await awsLite({ region: state.region, host: endpoint.hostname, port: Number(endpoint.port), protocol: endpoint.protocol.replace(':', ''), plugins: [s3Plugin], accessKeyId: 'test', secretAccessKey: 'test', retries: 0 });
  const put = aws.S3.PutObject as (params: Record<string, unknown>) => Promise<{ ETag?: string }>;
  const remove = aws.S3.DeleteObject as (params: Record<string, unknown>) => Promise<unknown>;
  const refused = async (what: string, request: Promise<unknown>) => {
    const status = await request.then(() => 200, (error: { statusCode?: number }) => error.statusCode);
    if (status !== 412) throw new Error(`aws-lite: ${what} answered ${status}, not 412: it did not send the condition, and the comparison would not be fair`);
  };
  const Key = 'conditions/check';
  const created = await put({ Bucket: bucket, Key, Body: '{}', ContentType: 'application/json', IfNoneMatch: '*' });
  await refused('a second create with If-None-Match: *', put({ Bucket: bucket, Key, Body: '{}', ContentType: 'application/json', IfNoneMatch: '*' }));
  await refused('a delete with another ETag in If-Match', remove({ Bucket: bucket, Key, IfMatch: '"0"' }));
  await remove({ Bucket: bucket, Key, IfMatch: created.ETag });
}

/** Prints every client's figures; returns false (it has no target). */
export async function awsClientBench(state: ReplicaState, root: string): Promise<boolean> {
  console.log('\n== the AWS client: one renewal\'s AWS requests from a fresh process (no target; for the decision on the 1-certificate target) ==');
  const { bundleOptions, stubs, renewUnused } = (await import(pathToFileURL(join(root, 'scripts', 'build.mjs')).href)) as { bundleOptions: BuildOptions; stubs: (modules: Record<string, string>) => Plugin; renewUnused: Record<string, string> };
  const work = mkdtempSync(join(tmpdir(), 'bench-aws-client-'));
  const s3 = replicaS3Client(state);
  const ssm = new SSMClient({ endpoint: state.awsEndpoint, region: state.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const bucket = `bench-aws-client-${randomBytes(4).toString('hex')}`;
  const parameter = `/acme-certificates/bench/aws-client-${randomBytes(4).toString('hex')}`;
  try {
    // As the stack's certificates bucket and account key are: versioned, and a SecureString.
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await ssm.send(new PutParameterCommand({ Name: parameter, Value: 'not a key: the bench reads it only', Type: 'SecureString' }));
    await checkAwsLiteConditions(state, bucket);
    const bundles = new Map<string, string>();
    for (const [name, contents] of Object.entries(ENTRIES)) {
      const outfile = join(work, `${name.replace(/\W+/g, '-')}.js`);
      await build({ ...bundleOptions, stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: `${name}.ts` }, outfile, sourcemap: false, logLevel: 'error', plugins: [stubs(renewUnused)] });
      bundles.set(name, outfile);
    }
    const names = [...bundles.keys()];
    const figures = new Map<string, { ms: number[]; cpuMs: number[] }>(names.map((name) => [name, { ms: [], cpuMs: [] }]));
    for (let round = 0; round <= ROUNDS; round += 1) {
      // Round 0 is not counted (files read for the first time); the counted rounds start with each client in turn.
      for (const name of [...names.slice(round % names.length), ...names.slice(0, round % names.length)]) {
        const started = process.hrtime.bigint();
        const result = spawnSync('node', [bundles.get(name) as string], {
          encoding: 'utf8',
          timeout: 120_000,
          env: { PATH: process.env.PATH, HOME: work, BUCKET: bucket, PREFIX: `r${round}-${randomBytes(3).toString('hex')}/`, PARAMETER: parameter, AWS_ENDPOINT_URL: state.awsEndpoint, AWS_REGION: state.region, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        });
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const cpu = /\nCPU ([\d.]+)/.exec(result.stderr ?? '');
        if (result.status !== 0 || !cpu) throw new Error(`${name}: the requests failed: ${result.error?.message ?? (result.stderr ?? '').trim().split('\n').filter((line) => line.trim() && !line.startsWith('    at ')).slice(-6).join(' | ').slice(-1500)}`);
        if (round === 0) continue;
        figures.get(name)?.ms.push(ms);
        figures.get(name)?.cpuMs.push(Number(cpu[1]));
      }
    }
    const base = median(figures.get(names[0] as string)?.ms ?? []);
    for (const name of names) {
      const { ms, cpuMs } = figures.get(name) as { ms: number[]; cpuMs: number[] };
      const less = name === names[0] ? '' : `  ${(base - median(ms)).toFixed(0)} ms less`;
      console.log(`     ${name.padEnd(28)} ${REQUESTS.length} requests: whole process ${median(ms).toFixed(0).padStart(4)} ms, CPU ${median(cpuMs).toFixed(0).padStart(4)} ms (medians of ${ROUNDS}), bundle ${(statSync(bundles.get(name) as string).size / 1024).toFixed(0).padStart(4)} KB${less}`);
    }
    return false;
  } finally {
    await deleteBucket(s3, bucket).catch((error: unknown) => console.error(`could not remove bucket ${bucket}: ${String(error)}`));
    await ssm.send(new DeleteParameterCommand({ Name: parameter })).catch((error: unknown) => console.error(`could not remove parameter ${parameter}: ${String(error)}`));
    s3.destroy();
    ssm.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}
