import { join } from 'node:path';
import { replicaLayout } from './layout.js';
import { startNginx, stopNginx, writeNginxConfig, type NginxSettings } from './nginx.js';
import { pickFreePorts } from './ports.js';
import type { ReplicaProcess } from './processes.js';
import { writeSite } from './sites.js';
import type { ReplicaState } from './state.js';

/** An nginx of its own: configured from the committed templates, supervised by s6-supervise as the replica's. */
export interface NginxInstance {
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
  /** Brings nginx down and ends its supervisor. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts an nginx under `dir` (its configuration, certificates, sites and logs) on free loopback
 * ports, proxying challenges to the replica's challenge bucket (or `challenge.challengeOrigin`).
 * On failure, what was started is stopped again.
 */
export async function startNginxInstance(dir: string, state: ReplicaState, challenge: Pick<NginxSettings, 'challengeOrigin' | 'caBundle'> = {}): Promise<NginxInstance> {
  const layout = replicaLayout(dir).nginx;
  const [httpPort, httpsPort] = (await pickFreePorts(2)) as [number, number];
  writeNginxConfig(layout, { httpPort, httpsPort, awsEndpoint: state.awsEndpoint, challengeBucket: state.buckets.challenges, resolver: state.dns.server, ...challenge });
  const started: ReplicaProcess[] = [];
  const stop = () => Promise.all(started.map((process) => stopNginx(layout, process.pid))).then(() => undefined);
  const logFile = join(dir, 'nginx.log');
  try {
    await startNginx(layout, httpPort, logFile, started);
  } catch (error) {
    await stop();
    throw error;
  }
  const nginx: NginxInstance = {
    confFile: layout.confFile,
    serviceDir: layout.serviceDir,
    certsDir: layout.certsDir,
    sitesDir: layout.sitesDir,
    httpPort,
    httpsPort,
    logFile,
    addSite: (domain) => writeSite(nginx, domain),
    stop,
  };
  return nginx;
}
