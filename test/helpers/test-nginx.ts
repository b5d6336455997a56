/**
 * An nginx of a test's own (scripts/replica/nginx-instance.ts): for tests that must not share the
 * replica's nginx, with its own certificates directory, sites and ports.
 */

import type { TestContext } from 'node:test';
import type { NginxSettings } from '../../scripts/replica/nginx.js';
import { startNginxInstance, type NginxInstance } from '../../scripts/replica/nginx-instance.js';
import type { ReplicaState } from '../../scripts/replica/state.js';
import { tempDir } from './temp.js';

export type TestNginx = NginxInstance;

/** Starts an nginx of the test's own under s6-supervise; it is stopped when the test ends. */
export async function startTestNginx(t: TestContext, state: ReplicaState, challenge: Pick<NginxSettings, 'challengeOrigin' | 'caBundle'> = {}): Promise<TestNginx> {
  const nginx = await startNginxInstance(tempDir('nginx'), state, challenge);
  t.after(() => nginx.stop());
  return nginx;
}
