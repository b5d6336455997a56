/**
 * A Pebble of a bench's own, beside the replica's: the replica's starter (scripts/replica/pebble.ts)
 * with its own behaviour (validation sleep, nonce rejection) and its own HTTP-01 port, the replica's
 * DNS server, and optionally a delaying proxy in front (scripts/replica/fault-proxy.ts) that every
 * client request goes through and that logs each one.
 */

import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startFaultProxy, type FaultProxy } from '../replica/fault-proxy.js';
import { replicaLayout } from '../replica/layout.js';
import { startPebble, type PebbleBehaviour } from '../replica/pebble.js';
import { pickFreePorts } from '../replica/ports.js';
import { stopProcess, type ReplicaProcess } from '../replica/processes.js';
import type { ReplicaState } from '../replica/state.js';

export interface BenchPebble {
  /** The directory URL clients use: the proxy's when there is one. */
  directoryUrl: string;
  /** The throw-away CA of Pebble's HTTPS certificate, which the proxy presents too: what clients trust. */
  apiCaFile: string;
  apiCaPem: string;
  /** Pebble's issuing root (new at every start): the project's TRUSTED_ROOTS_PEM. */
  rootsPem: string;
  /** The proxy in front, whose log holds every request; null without `delayMs`. */
  proxy: FaultProxy | null;
  /** Stops the proxy and Pebble; safe to call twice. */
  stop(): Promise<void>;
}

export interface BenchPebbleOptions {
  /** Where Pebble validates HTTP-01. */
  httpPort: number;
  behaviour: PebbleBehaviour;
  /** Put a proxy in front that adds this round trip to every request. */
  delayMs?: number;
}

/** Starts Pebble under `dir` (its configuration, certificates and log) on free loopback ports. */
export async function startBenchPebble(dir: string, state: ReplicaState, options: BenchPebbleOptions): Promise<BenchPebble> {
  const layout = replicaLayout(dir).pebble;
  mkdirSync(dirname(layout.config), { recursive: true });
  // tls: TLS-ALPN-01's port, which nothing here uses; a free one, so no validation reaches anything.
  const [api, management, tls] = (await pickFreePorts(3)) as [number, number, number];
  const started: ReplicaProcess[] = [];
  let proxy: FaultProxy | null = null;
  const stop = async () => {
    await proxy?.close();
    proxy = null;
    for (const pebble of started) await stopProcess(pebble.pid, layout.config);
  };
  try {
    const pebble = await startPebble(layout, { api, management, http: options.httpPort, tls }, state.dns.server, options.behaviour, join(dir, 'pebble.log'), started);
    if (options.delayMs !== undefined) {
      proxy = await startFaultProxy({
        target: new URL(pebble.directoryUrl).origin,
        tls: { cert: readFileSync(layout.apiCertificate), key: readFileSync(layout.apiPrivateKey), ca: readFileSync(layout.apiCaFile) },
        rules: [],
        delayMs: options.delayMs,
      });
    }
    return {
      // Pebble writes its URLs from the Host header, which the proxy passes on: they point back at the proxy.
      directoryUrl: proxy ? `${proxy.url}/dir` : pebble.directoryUrl,
      apiCaFile: layout.apiCaFile,
      apiCaPem: readFileSync(layout.apiCaFile, 'utf8'),
      rootsPem: readFileSync(layout.rootsFile, 'utf8'),
      proxy,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
