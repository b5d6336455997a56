/**
 * The renew workflow wired to the real local replica (moto, Pebble, nginx), with a fresh
 * certificates bucket per harness and the log lines captured for assertions.
 */

import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { createJsonLogger } from '../../functions/adapters/json-logger.js';
import type { RenewRequest } from '../../functions/core/request.js';
import { readRenewConfig, type RenewConfig } from '../../functions/renew/config.js';
import { buildRenewalContext, buildWatchContext, createRenewClients } from '../../functions/renew/wiring.js';
import { runInvocation, type InvocationResult } from '../../functions/workflows/invocation.js';
import { renewAll, type RunReport } from '../../functions/workflows/renew-all.js';
import type { RenewalContext } from '../../functions/workflows/ports.js';
import { SnsNotifier } from '../../functions/adapters/sns-notifier.js';
import type { TestTopic } from './topic.js';
import { renewEnvironment } from '../../scripts/replica/renew-env.js';
import { createCertificatesBucket, credentials, replicaState, s3Client, ssmClient, uniqueLabel } from './replica-clients.js';

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
  /**
   * What the handler does with one invocation (workflows/invocation.ts), in-process: renew (unless
   * `mode: watch`), watch, then tell the people on `topic`; `now` moves the clock of the watch and
   * the telling (a host that reported hours ago, a grace that has passed); `metrics` are the EMF
   * records the handler logs.
   */
  cycle(request?: RenewRequest, options?: { topic?: TestTopic; now?: Date }): Promise<InvocationResult & { metrics: Record<string, unknown>[] }>;
}

export interface HarnessOptions {
  /**
   * Build the run's S3 and SSM clients as the function does (createRenewClients: adaptive
   * retries, each failed try logged), reaching AWS_ENDPOINT_URL from `overrides` (a fault proxy in
   * front of moto); otherwise plain clients straight to moto.
   */
  productClients?: boolean;
  /** The run's clock (the system's when absent): a clock off the CA's. */
  now?: () => Date;
}

/** Returns a harness on a fresh certificates bucket; `overrides` replace environment values. */
export async function renewHarness(overrides: Record<string, string> = {}, options: HarnessOptions = {}): Promise<RenewHarness> {
  const state = replicaState();
  const s3 = s3Client(state);
  const bucket = overrides.CERTIFICATES_BUCKET ?? (await createCertificatesBucket(s3));
  const config = readRenewConfig({ ...replicaEnvironment(overrides), CERTIFICATES_BUCKET: bucket }, rootCertificates);
  const logs: string[] = [];
  const log = createJsonLogger((line) => logs.push(line));
  const clients = options.productClients
    ? createRenewClients(config, (event) => log('warn', 'an AWS request failed; the SDK tries it again while tries remain', { step: 'aws', ...event }), { region: state.region, credentials })
    : { s3, ssm: ssmClient(state) };
  const context = buildRenewalContext(config, clients, log, uniqueLabel('run'), options.now ? { now: options.now } : {});
  const run = (request: RenewRequest = {}) => renewAll(request, { ...context, runId: randomUUID() }, config.concurrency);
  return {
    bucket,
    config,
    context,
    logs,
    run,
    async cycle(request = {}, options = {}) {
      const clock = () => options.now ?? new Date();
      const log = createJsonLogger((line) => logs.push(line));
      const notifier = options.topic ? new SnsNotifier(options.topic.sns, options.topic.arn) : null;
      const metrics: Record<string, unknown>[] = [];
      const result = await runInvocation(request, randomUUID(), {
        renewal: { ...context, runId: randomUUID() },
        watch: { ...buildWatchContext(config, { s3 }, log), now: clock },
        tell: { store: context.store, notifier, log, now: clock, service: 'acme-certificates-local' },
        concurrency: config.concurrency,
        log,
        emitMetrics: (record) => metrics.push(record),
        functionName: 'renew',
      });
      return { ...result, metrics };
    },
  };
}
