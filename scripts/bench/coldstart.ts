/**
 * The renew function's cold start (issue 12): the bundle's size and the time node takes to import
 * it, next to `node -e 0` measured in the same run, interleaved, median of 10 each. Targets: the
 * bundle at most 1 MB; its import at most 200 ms (the import alone: the process's time less
 * node's own start). Needs no replica. Returns true when a target is missed.
 */

import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';

const ROUNDS = 10;
const MAX_BUNDLE_BYTES = 1024 * 1024;
const MAX_IMPORT_MS = 200;

function timed(args: string[], cwd: string): number {
  const started = process.hrtime.bigint();
  const result = spawnSync('node', args, { cwd, stdio: 'ignore', env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function coldStartBench(root: string): boolean {
  console.log('\n== the renew function\'s cold start ==');
  const bundle = join(root, 'dist', 'renew', 'handler.js');
  const bytes = statSync(bundle).size;
  const bare: number[] = [];
  const imported: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    // Interleaved, so both see the same machine.
    bare.push(timed(['-e', '0'], root));
    imported.push(timed(['-e', `require(${JSON.stringify(bundle)})`], root));
  }
  const importMs = median(imported) - median(bare);
  const rows: [boolean, string, string][] = [
    [bytes <= MAX_BUNDLE_BYTES, `renew bundle            ${(bytes / 1024).toFixed(0).padStart(6)} KB`, `target ≤ ${MAX_BUNDLE_BYTES / 1024} KB`],
    [true, `node -e 0, median of ${ROUNDS}    ${median(bare).toFixed(0).padStart(6)} ms`, '(node\'s own start)'],
    [true, `import, whole process   ${median(imported).toFixed(0).padStart(6)} ms`, ''],
    [importMs <= MAX_IMPORT_MS, `import alone            ${importMs.toFixed(0).padStart(6)} ms`, `target ≤ ${MAX_IMPORT_MS} ms (${(importMs / MAX_IMPORT_MS).toFixed(2)}× of it)`],
  ];
  for (const [ok, figure, target] of rows) console.log(`${ok ? 'ok  ' : 'MISS'} ${figure}  ${target}`);
  return rows.some(([ok]) => !ok);
}
