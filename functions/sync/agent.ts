/**
 * The host sync agent (`node sync-agent.js`, run by cron on the web host): makes the certificates
 * in the bucket the certificates nginx serves, and never makes things worse. Exit status: 0 when
 * every domain is in order, 1 when any domain or the reload failed, 2 for bad configuration.
 */

import { rootCertificates } from 'node:tls';
import { S3Client } from '@aws-sdk/client-s3';
import { createJsonLogger } from '../adapters/json-logger.js';
import { ConfigurationError, describeError } from '../core/errors.js';
import { syncHost } from '../workflows/sync-host.js';
import { readAgentConfig } from './config.js';
import { formatSyncReport, syncFailed } from './report.js';
import { buildSyncContext } from './wiring.js';

async function main(): Promise<number> {
  const config = readAgentConfig(process.argv.slice(2), process.env, rootCertificates);
  const s3 = new S3Client({ region: config.region, ...(config.endpoint ? { endpoint: config.endpoint, forcePathStyle: true } : {}) });
  const report = await syncHost(buildSyncContext(config, s3, createJsonLogger((line) => console.error(line))));
  for (const line of formatSyncReport(report)) console.log(line);
  return syncFailed(report) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof ConfigurationError ? error.message : `acme-sync: ${describeError(error)}`);
    process.exitCode = error instanceof ConfigurationError ? 2 : 1;
  },
);
