/**
 * What the AWS client costs one renewal (issue 12, for the user's decision on its last target; no
 * target of its own): the S3 requests the renew function makes to issue one certificate, in the
 * order it makes them, sent from a fresh node process, as a cold Lambda sends them, by two
 * clients:
 *
 * - `@aws-sdk/client-s3`, which the function uses (the design card names it), set up as
 *   functions/renew/wiring.ts sets it up (adaptive retries, 8 tries);
 * - `@aws-lite/s3` (with `@aws-lite/client`), a small AWS client written for Lambda's cold
 *   starts, installed only for this comparison (devDependencies). Its S3 plugin has no
 *   conditional PUT (`If-None-Match`, `If-Match`: the lock, the ledger, the manifest), which the
 *   function needs: those go through its raw request, which sends any header.
 *
 * Each is bundled as the function is (esbuild, minified, CommonJS) into a temporary directory and
 * run as `node bundle.js` against the replica's S3 (moto): whole process, spawn to exit,
 * interleaved, median of 5. The request mix is the one counted in a traced single-certificate
 * run (2026-12-02): 5 listings, 5 GETs (4 of them 404), 15 PUTs (3 conditional), 4 DELETEs. Sent
 * one after the other, not as the run overlaps them: this measures the client, not the run. SSM's
 * one request is left out (aws-lite's SSM plugin is another package).
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { replicaS3Client } from '../replica/provision.js';
import type { ReplicaState } from '../replica/state.js';
import { deleteBucket } from './bucket.js';

const ROUNDS = 5;

/**
 * The requests, as [method, key, condition]: `folder/` stands for the domain's folder. The same
 * list drives both clients (see the entry scripts below).
 */
const REQUESTS: [string, string, string][] = [
  ['LIST', '', ''], // the run's listing
  ['PUT', 'folder/renew.lock', 'none-match'], // the lock
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
  ['DELETE', 'folder/renew.lock', ''],
  ['LIST', '', 'folders'], // the watch
  ['GET', '.manifest.json', ''], // the manifest
  ['LIST', '.host-report.', ''],
  ['GET', 'folder/status.json', ''],
  ['LIST', '', ''],
  ['PUT', 'folder/status.json', ''],
  ['PUT', '.manifest.json', 'none-match'],
  ['GET', '.attention.json', ''], // what needs attention
  ['PUT', '.attention.json', ''],
];

/** Each entry reads BUCKET, PREFIX and AWS_ENDPOINT_URL from the environment and sends REQUESTS in order. */
const ENTRIES: Record<string, string> = {
  '@aws-sdk/client-s3': `
import { S3Client, ListObjectsV2Command, GetObjectCommand, PutObjectCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
const { BUCKET: Bucket, PREFIX: prefix } = process.env;
const requests = ${JSON.stringify(REQUESTS)};
const s3 = new S3Client({ endpoint: process.env.AWS_ENDPOINT_URL, forcePathStyle: true, retryMode: 'adaptive', maxAttempts: 8 });
(async () => {
  for (const [method, key, condition] of requests) {
    const Key = prefix + key;
    if (method === 'LIST') await s3.send(new ListObjectsV2Command({ Bucket, Prefix: Key, ...(condition === 'folders' ? { Delimiter: '/' } : {}) }));
    if (method === 'GET') await s3.send(new GetObjectCommand({ Bucket, Key })).then((answer) => answer.Body.transformToString(), (error) => { if (error.name !== 'NoSuchKey') throw error; });
    if (method === 'PUT') await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x'.repeat(600), ...(condition === 'none-match' ? { IfNoneMatch: '*' } : {}) }));
    if (method === 'DELETE') await s3.send(new DeleteObjectCommand({ Bucket, Key }));
  }
})().catch((error) => { console.error(error.message); process.exit(1); });
`,
  '@aws-lite/s3': `
import awsLite from '@aws-lite/client';
import s3Plugin from '@aws-lite/s3';
const { BUCKET: Bucket, PREFIX: prefix } = process.env;
const requests = ${JSON.stringify(REQUESTS)};
const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
(async () => {
  const aws = await awsLite({ region: process.env.AWS_REGION, host: endpoint.hostname, port: Number(endpoint.port), protocol: endpoint.protocol.replace(':', ''), plugins: [s3Plugin], autoloadPlugins: false, autoloadConfig: false, retries: 7 });
  for (const [method, key, condition] of requests) {
    const Key = prefix + key;
    if (method === 'LIST') await aws.S3.ListObjectsV2({ Bucket, Prefix: Key, ...(condition === 'folders' ? { Delimiter: '/' } : {}) });
    if (method === 'GET') await aws.S3.GetObject({ Bucket, Key }).catch((error) => { if (error.statusCode !== 404) throw error; });
    // Its PutObject sends no If-None-Match: the raw request does.
    if (method === 'PUT' && condition === 'none-match') await aws({ service: 's3', method: 'PUT', path: '/' + Bucket + '/' + Key, headers: { 'if-none-match': '*', 'content-type': 'application/octet-stream' }, payload: 'x'.repeat(600) });
    else if (method === 'PUT') await aws.S3.PutObject({ Bucket, Key, Body: 'x'.repeat(600) });
    if (method === 'DELETE') await aws.S3.DeleteObject({ Bucket, Key });
  }
})().catch((error) => { console.error(error.message); process.exit(1); });
`,
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Prints both clients' figures; returns false (it has no target). */
export async function awsClientBench(state: ReplicaState, root: string): Promise<boolean> {
  console.log('\n== the AWS client: one renewal\'s S3 requests from a fresh process (no target; for the decision on the 1-certificate target) ==');
  const work = mkdtempSync(join(tmpdir(), 'bench-aws-client-'));
  const admin = replicaS3Client(state);
  const bucket = `bench-aws-client-${randomBytes(4).toString('hex')}`;
  try {
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    const bundles = new Map<string, string>();
    for (const [name, contents] of Object.entries(ENTRIES)) {
      const outfile = join(work, `${name.replace(/\W+/g, '-')}.js`);
      await build({ stdin: { contents, resolveDir: root, loader: 'js' }, outfile, bundle: true, minify: true, keepNames: true, platform: 'node', target: 'node20', format: 'cjs', mainFields: ['module', 'main'], logLevel: 'error' });
      bundles.set(name, outfile);
    }
    const times = new Map<string, number[]>([...bundles.keys()].map((name) => [name, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, bundle] of bundles) {
        const started = process.hrtime.bigint();
        const result = spawnSync('node', [bundle], {
          encoding: 'utf8',
          env: { PATH: process.env.PATH, HOME: work, BUCKET: bucket, PREFIX: `r${round}-${randomBytes(3).toString('hex')}/`, AWS_ENDPOINT_URL: state.awsEndpoint, AWS_REGION: state.region, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        });
        if (result.status !== 0) throw new Error(`${name}: the requests failed: ${result.stderr.trim().split('\n').pop() ?? ''}`);
        times.get(name)?.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }
    const sdk = median(times.get('@aws-sdk/client-s3') as number[]);
    for (const [name, bundle] of bundles) {
      const ms = median(times.get(name) as number[]);
      console.log(`     ${name.padEnd(20)} ${REQUESTS.length} requests, whole process ${ms.toFixed(0).padStart(5)} ms (median of ${ROUNDS}), bundle ${(statSync(bundle).size / 1024).toFixed(0).padStart(4)} KB${name === '@aws-sdk/client-s3' ? '' : `  ${(sdk - ms).toFixed(0)} ms less`}`);
    }
    return false;
  } finally {
    await deleteBucket(admin, bucket).catch((error: unknown) => console.error(`could not remove bucket ${bucket}: ${String(error)}`));
    admin.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}
