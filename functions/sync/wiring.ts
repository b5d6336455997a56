/**
 * Builds the sync context from the agent's configuration: the only place the agent's adapters are
 * constructed.
 */

import { hostname } from 'node:os';
import type { S3Client } from '@aws-sdk/client-s3';
import type { STSClient } from '@aws-sdk/client-sts';
import { S3HostReporter } from '../adapters/s3-host-reporter.js';
import { createCommandRunner } from '../adapters/command-runner.js';
import { HostCertificateFiles } from '../adapters/host-cert-files.js';
import { acquireLockFile } from '../adapters/lock-file.js';
import { NginxControl } from '../adapters/nginx-control.js';
import { S3BucketReader } from '../adapters/s3-bucket-reader.js';
import { SyncStateFile } from '../adapters/sync-state-file.js';
import { createPlaceholderKey } from '../core/placeholder.js';
import type { Logger } from '../workflows/ports.js';
import type { SyncContext } from '../workflows/sync-ports.js';
import type { AgentConfig } from './config.js';

export function buildSyncContext(config: AgentConfig, clients: { s3: S3Client; sts: STSClient }, log: Logger, agentVersion: string): SyncContext {
  const { s3 } = clients;
  let placeholderKey: ReturnType<typeof createPlaceholderKey> | undefined;
  return {
    bucket: new S3BucketReader(s3, config.bucket, (notice) => log('warn', notice, { step: 'fetch' })),
    files: new HostCertificateFiles(config.certsDir, config.owner),
    nginx: new NginxControl(createCommandRunner(60_000), {
      testCommand: config.testCommand,
      confDir: config.nginxConfDir,
      reloadCommand: config.reloadCommand,
      tlsHost: config.tls.host,
      tlsPort: config.tls.port,
    }),
    state: new SyncStateFile(config.stateFile),
    lock: () => acquireLockFile(config.lockFile),
    reporter: new S3HostReporter(s3, clients.sts, config.bucket),
    host: { name: hostname(), agentVersion },
    log,
    now: () => new Date(),
    placeholderKey: () => (placeholderKey ??= createPlaceholderKey()),
    trustedRoots: config.trustedRoots,
    skewAllowanceMs: config.skewAllowanceMs,
    domains: config.domains,
    prune: config.prune,
    fullListingEveryMs: config.fullListingEveryMs,
    mode: config.mode,
    concurrency: config.concurrency,
    servedCheckTimeoutMs: config.servedCheckTimeoutMs,
  };
}
