/**
 * The host sync agent (`node sync-agent.js`, run by cron on the web host, or in a loop as a
 * container's service): makes the certificates in the bucket the certificates nginx serves, and
 * never makes things worse. `render` fills in the host templates. Exit status: 0 when every domain
 * is in order, 1 when any domain or the reload failed, 2 for bad configuration or usage.
 */

import { rootCertificates } from 'node:tls';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { awsRetrySettings } from '../adapters/aws-retries.js';
import { createJsonLogger } from '../adapters/json-logger.js';
import { ConfigurationError, describeError } from '../core/errors.js';
import { TemplateError } from '../core/host-templates.js';
import { syncHost } from '../workflows/sync-host.js';
import { readAgentCommand, type AgentConfig } from './config.js';
import { renderCommand, renderHelp } from './render.js';
import { formatSyncReport, syncFailed } from './report.js';
import { buildSyncContext } from './wiring.js';

/** The agent's version, set by the build (scripts/build.mjs); "dev" when run from source. */
declare const AGENT_VERSION: string | undefined;
const version = typeof AGENT_VERSION === 'string' ? AGENT_VERSION : 'dev';

async function main(): Promise<number> {
  const command = readAgentCommand(process.argv.slice(2), process.env, rootCertificates);
  switch (command.command) {
    case 'help':
      console.log(command.text);
      return 0;
    case 'version':
      console.log(`acme-sync ${version} (node ${process.version})`);
      return 0;
    case 'render-help':
      console.log(renderHelp(command.template));
      return 0;
    case 'render':
      return renderCommand(command);
    case 'sync':
      return command.config.intervalSeconds === null ? syncOnce(command.config) : syncEvery(command.config, command.config.intervalSeconds);
  }
}

async function syncOnce(config: AgentConfig): Promise<number> {
  // The SDK's notice that future SDK releases need node 22 concerns upgrading the SDK, which this
  // bundle pins; printed on every run under node 20, it would make cron mail every hour.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Every request is bounded, so a stalled connection cannot hold the cron line's flock for ever.
  const requestHandler = { connectionTimeout: 5_000, requestTimeout: 30_000 };
  // Adaptive retries ride out S3 throttling quietly (cron would mail every retry line); a request
  // that still fails names its cause in the domain's failure.
  const retries = awsRetrySettings(6);
  const s3 = new S3Client({ region: config.region, requestHandler, ...retries, ...(config.endpoint ? { endpoint: config.endpoint, forcePathStyle: true } : {}) });
  const sts = new STSClient({ region: config.region, requestHandler, ...retries, ...(config.endpoint ? { endpoint: config.endpoint } : {}) });
  try {
    const report = await syncHost(buildSyncContext(config, { s3, sts }, createJsonLogger((line) => console.error(line)), version));
    for (const line of formatSyncReport(report)) console.log(line);
    return syncFailed(report) ? 1 : 0;
  } finally {
    s3.destroy();
    sts.destroy();
  }
}

/**
 * Runs a sync every `seconds` until SIGTERM or SIGINT (a supervised service: s6 sends SIGTERM to
 * stop it); SIGHUP (`s6-svc -h`) starts the next run at once, or right after the one in progress.
 * A run in progress finishes first; a failed run is reported and the loop goes on.
 */
async function syncEvery(config: AgentConfig, seconds: number): Promise<number> {
  if (config.mode === 'install-only') return syncOnce(config);
  let stopping = false;
  let runNow = false;
  let wake: () => void = () => undefined;
  process.on('SIGTERM', () => {
    stopping = true;
    wake();
  });
  process.on('SIGINT', () => {
    stopping = true;
    wake();
  });
  process.on('SIGHUP', () => {
    runNow = true;
    wake();
  });
  while (!stopping) {
    runNow = false;
    try {
      await syncOnce(config);
    } catch (error) {
      // Reported every run until fixed; exiting would make the supervisor restart the loop at once.
      console.log(`FAILED acme-sync: ${describeError(error)}`);
    }
    if (stopping || runNow) continue;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, seconds * 1000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = () => undefined;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const known = error instanceof ConfigurationError || error instanceof TemplateError;
    console.error(known ? `acme-sync: ${(error as Error).message}` : `acme-sync: ${describeError(error)}`);
    process.exitCode = known ? 2 : 1;
  },
);
