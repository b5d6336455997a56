/**
 * The renew function as a fresh process, as a cold Lambda runs it: node, with the function's
 * NODE_OPTIONS, loads the built bundle (dist/renew/handler.js, `npm run build`) and calls its
 * handler once with a scheduled event, over a bucket of its own holding one domain folder, then
 * exits. The bucket is removed afterwards.
 */

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { replicaS3Client } from '../replica/provision.js';
import { renewEnvironment } from '../replica/renew-env.js';
import type { ReplicaState } from '../replica/state.js';
import { deleteBucket } from './bucket.js';
import { createDomainBucket, runDomains } from './renewal-run.js';

export interface HandlerProcess {
  /** From spawning node to its exit. */
  wholeMs: number;
  /** The handler's call alone, measured inside the process. */
  handlerMs: number;
  renewed: number;
  /** Why the handler failed (empty when it did not). */
  problem: string;
}

/**
 * Runs the handler in a new process over one fresh domain; `environment` overrides the replica's
 * renew environment, and `apiCaFile` is what node trusts for the CA's HTTPS (NODE_EXTRA_CA_CERTS).
 */
export async function runHandlerProcess(state: ReplicaState, root: string, environment: Record<string, string>, apiCaFile: string): Promise<HandlerProcess> {
  const admin = replicaS3Client(state);
  const bucket = await createDomainBucket(admin, runDomains(1));
  const script = [
    "const { performance } = require('node:perf_hooks');",
    `const { handler } = require(${JSON.stringify(join(root, 'dist', 'renew', 'handler.js'))});`,
    'const started = performance.now();',
    'const done = (fields, code) => { process.stderr.write(`\\nBENCH_HANDLER ${JSON.stringify({ ms: performance.now() - started, ...fields })}\\n`); process.exit(code); };',
    'handler({}).then((result) => done({ renewed: result.run ? result.run.counts.renewed : 0 }, 0), (error) => done({ renewed: 0, error: String(error && error.message).slice(0, 300) }, 1));',
  ].join('\n');
  const env = {
    ...process.env,
    ...renewEnvironment(state),
    ...environment,
    CERTIFICATES_BUCKET: bucket,
    AWS_ENDPOINT_URL: state.awsEndpoint,
    AWS_REGION: state.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    NODE_EXTRA_CA_CERTS: apiCaFile,
    // What serverless.yml gives the function (readable stack frames): Lambda starts node with it.
    NODE_OPTIONS: '--enable-source-maps',
  };
  try {
    const started = performance.now();
    // The handler's log lines go to stdout; only stderr's last marker is read.
    const { stderr } = await promisify(execFile)('node', ['-e', script], { env, maxBuffer: 64 << 20, timeout: 300_000 }).catch((error: { stderr?: string }) => ({ stderr: error.stderr ?? '' }));
    const wholeMs = performance.now() - started;
    const marker = /BENCH_HANDLER (\{.*\})/.exec(stderr);
    const handler = marker ? (JSON.parse(marker[1] as string) as { ms: number; renewed: number; error?: string }) : { ms: wholeMs, renewed: 0, error: `no answer from the handler: ${stderr.trim().split('\n').pop() ?? ''}` };
    return { wholeMs, handlerMs: handler.ms, renewed: handler.renewed, problem: handler.error ? `the handler failed: ${handler.error}` : '' };
  } finally {
    await deleteBucket(admin, bucket);
    admin.destroy();
  }
}
