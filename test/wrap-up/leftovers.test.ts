/**
 * Runs last (scripts/test.sh; node runs test files in path order, and wrap-up sorts after unit):
 * the suite left nothing behind. Every test file's temporary
 * directories are gone, no test host (network namespace) remains, and no process runs from the
 * temporary directory (a test nginx, an agent, a host's services).
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { testHostNamespaces } from '../../scripts/replica/test-hosts.js';

test('the test suite left nothing in its temporary directory', () => {
  assert.deepEqual(readdirSync(tmpdir()), [], `left behind in ${tmpdir()}`);
});

test('no test host is left running', () => {
  assert.deepEqual(testHostNamespaces(), []);
});

test('no process runs from the temporary directory', () => {
  const running = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      return cmdline.includes(tmpdir()) ? [`${pid}: ${cmdline}`] : [];
    } catch {
      return [];
    }
  });
  assert.deepEqual(running, []);
});
