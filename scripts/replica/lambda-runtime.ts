/**
 * REPLICA STAND-IN, NOT THE PRODUCT: one Lambda invocation of a built bundle, as the Lambda
 * runtime makes it. moto has no Lambda runtime, so on the replica each invocation is a fresh node
 * process that loads the bundle serverless.yml packages (dist/renew/worker.js, …), with only the
 * environment the stack gives the function (not the caller's), a context whose
 * getRemainingTimeInMillis counts down from the function's timeout, and a kill when the timeout
 * passes, as Lambda ends an invocation. Each process is a cold start: Lambda would reuse a warm one.
 *
 * The handler's log lines (stdout) go to `onLog`; the result comes back on a line of its own.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';

export interface InvokeOptions {
  /** Absolute path of the bundle, and the export to call. */
  bundle: string;
  handler: string;
  event: unknown;
  /** The function's environment, as the stack sets it (nothing of the caller's is inherited). */
  environment: Record<string, string>;
  timeoutMs: number;
  functionName: string;
  onLog?: (line: string) => void;
  /** Called once the process runs, with a way to kill it (SIGKILL, as a crashed sandbox). */
  onStart?: (kill: () => void) => void;
}

const RESULT = '\u0000result ';

/** Runs one invocation; resolves with the handler's result, rejects when it throws, times out or its process dies. */
export function invokeBundle(options: InvokeOptions): Promise<unknown> {
  const runtime = `
const started = Date.now();
const timeoutMs = ${options.timeoutMs};
const handler = require(${JSON.stringify(options.bundle)})[${JSON.stringify(options.handler)}];
let input = '';
process.stdin.setEncoding('utf8').on('data', (chunk) => (input += chunk)).on('end', async () => {
  const context = { awsRequestId: ${JSON.stringify(randomUUID())}, functionName: ${JSON.stringify(options.functionName)}, getRemainingTimeInMillis: () => timeoutMs - (Date.now() - started) };
  try {
    const result = await handler(JSON.parse(input), context);
    process.stdout.write(${JSON.stringify(RESULT)} + JSON.stringify(result === undefined ? null : result) + '\\n', () => process.exit(0));
  } catch (error) {
    process.stderr.write(String(error && error.stack || error) + '\\n', () => process.exit(1));
  }
});`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', '-e', runtime], { env: options.environment, stdio: ['pipe', 'pipe', 'pipe'] });
    let result: unknown;
    let answered = false;
    let stderr = '';
    let pending = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    options.onStart?.(() => child.kill('SIGKILL'));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (line.startsWith(RESULT)) {
          result = JSON.parse(line.slice(RESULT.length));
          answered = true;
        } else if (line) options.onLog?.(line);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && answered) resolve(result);
      else reject(new Error(`${options.functionName}: the invocation ${signal ? `was killed (${signal})` : `failed (exit ${code})`}${stderr ? `: ${stderr.trim().split('\n').slice(0, 3).join(' | ')}` : ''}`));
    });
    child.stdin.end(JSON.stringify(options.event));
  });
}
