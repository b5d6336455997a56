/**
 * An nginx of a test's own, configured from the committed templates and supervised by
 * s6-supervise exactly as the replica's (scripts/replica/nginx.ts): for tests that must not share
 * the replica's nginx, with its own certificates directory, sites and ports.
 */

import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { replicaLayout } from '../../scripts/replica/layout.js';
import { startNginx, stopNginx, writeNginxConfig, type NginxSettings } from '../../scripts/replica/nginx.js';
import { pickFreePorts } from '../../scripts/replica/ports.js';
import type { ReplicaProcess } from '../../scripts/replica/processes.js';
import { writeSite } from '../../scripts/replica/sites.js';
import type { ReplicaState } from '../../scripts/replica/state.js';
import { tempDir } from './temp.js';

export interface TestNginx {
  confFile: string;
  serviceDir: string;
  certsDir: string;
  sitesDir: string;
  httpPort: number;
  httpsPort: number;
  /** What nginx wrote to stderr (its error log), through s6. */
  logFile: string;
  /** Writes the server block of `domain` (not reloaded); returns its file. */
  addSite(domain: string): string;
}

/** Starts an nginx of the test's own under s6-supervise; it is stopped when the test ends. */
export async function startTestNginx(t: TestContext, state: ReplicaState, challenge: Pick<NginxSettings, 'challengeOrigin' | 'caBundle'> = {}): Promise<TestNginx> {
  const dir = tempDir('nginx');
  const layout = replicaLayout(dir).nginx;
  const [httpPort, httpsPort] = (await pickFreePorts(2)) as [number, number];
  writeNginxConfig(layout, { httpPort, httpsPort, awsEndpoint: state.awsEndpoint, challengeBucket: state.buckets.challenges, resolver: state.dns.server, ...challenge });
  const started: ReplicaProcess[] = [];
  t.after(() => Promise.all(started.map((process) => stopNginx(layout, process.pid))));
  const logFile = join(dir, 'nginx.log');
  await startNginx(layout, httpPort, logFile, started);
  const nginx: TestNginx = {
    confFile: layout.confFile,
    serviceDir: layout.serviceDir,
    certsDir: layout.certsDir,
    sitesDir: layout.sitesDir,
    httpPort,
    httpsPort,
    logFile,
    addSite: (domain) => writeSite(nginx, domain),
  };
  return nginx;
}
