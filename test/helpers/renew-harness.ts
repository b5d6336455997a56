/**
 * The renew workflow wired to the real local replica (moto, Pebble, nginx), with a fresh
 * certificates bucket per harness and the log lines captured for assertions.
 */

import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { createJsonLogger } from '../../functions/adapters/json-logger.js';
import type { RenewRequest } from '../../functions/core/request.js';
import { readRenewConfig, type RenewConfig } from '../../functions/renew/config.js';
import { buildRenewalContext } from '../../functions/renew/wiring.js';
import { renewAll, type RunReport } from '../../functions/workflows/renew-all.js';
import type { RenewalContext } from '../../functions/workflows/ports.js';
import { renewEnvironment } from '../../scripts/replica/renew-env.js';
import { createCertificatesBucket, replicaState, s3Client, ssmClient, uniqueLabel } from './replica-clients.js';

/** Returns the renew function's environment for the replica, with `overrides`. */
export function replicaEnvironment(overrides: Record<string, string> = {}): Record<string, string> {
  return { ...renewEnvironment(replicaState()), ...overrides };
}

export interface RenewHarness {
  bucket: string;
  config: RenewConfig;
  context: RenewalContext;
  logs: string[];
  run(request?: RenewRequest): Promise<RunReport>;
}

/** Returns a harness on a fresh certificates bucket; `overrides` replace environment values. */
export async function renewHarness(overrides: Record<string, string> = {}): Promise<RenewHarness> {
  const state = replicaState();
  const s3 = s3Client(state);
  const bucket = overrides.CERTIFICATES_BUCKET ?? (await createCertificatesBucket(s3));
  const config = readRenewConfig({ ...replicaEnvironment(overrides), CERTIFICATES_BUCKET: bucket }, rootCertificates);
  const logs: string[] = [];
  const context = buildRenewalContext(config, { s3, ssm: ssmClient(state) }, createJsonLogger((line) => logs.push(line)), uniqueLabel('run'));
  return {
    bucket,
    config,
    context,
    logs,
    run: (request = {}) => renewAll(request, { ...context, runId: randomUUID() }, config.concurrency),
  };
}
