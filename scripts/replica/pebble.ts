import { writeFileSync } from 'node:fs';
import { replicaLayout } from './layout.js';
import { httpsRequest } from './https.js';
import { startLogged, waitUntilReady, type ReplicaProcess } from './processes.js';
import { createApiCertificates } from './tls.js';

type PebbleLayout = ReturnType<typeof replicaLayout>['pebble'];

export interface PebblePorts {
  api: number;
  management: number;
  /** Where Pebble validates HTTP-01: nginx's port 80. */
  http: number;
  /** Where Pebble validates TLS-ALPN-01: nginx's port 443 (unused by this project). */
  tls: number;
}

/**
 * Starts Pebble with a fresh API certificate and `dnsServer` as its only resolver; returns once its
 * directory answers over HTTPS, after saving its (new at every start) root and intermediate.
 * `nonceRejectPercent` is Pebble's share of deliberately rejected nonces.
 */
export async function startPebble(
  layout: PebbleLayout,
  ports: PebblePorts,
  dnsServer: string,
  nonceRejectPercent: number,
  logFile: string,
  started: ReplicaProcess[],
): Promise<{ process: ReplicaProcess; directoryUrl: string; managementUrl: string }> {
  const { ca, server } = createApiCertificates();
  writeFileSync(layout.apiCaFile, ca.certificate);
  writeFileSync(layout.apiCertificate, server.certificate);
  writeFileSync(layout.apiPrivateKey, server.privateKey, { mode: 0o600 });
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${ports.api}`,
      managementListenAddress: `127.0.0.1:${ports.management}`,
      certificate: layout.apiCertificate,
      privateKey: layout.apiPrivateKey,
      httpPort: ports.http,
      tlsPort: ports.tls,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  };
  writeFileSync(layout.config, `${JSON.stringify(config, null, 2)}\n`);

  const directoryUrl = `https://127.0.0.1:${ports.api}/dir`;
  const managementUrl = `https://127.0.0.1:${ports.management}`;
  const pebble = await startLogged('pebble', 'pebble', ['-config', layout.config, '-dnsserver', dnsServer], logFile, started, {
    ...process.env,
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: String(nonceRejectPercent),
  });
  await waitUntilReady(pebble, `ACME directory ${directoryUrl}`, async () => (await httpsRequest(directoryUrl, ca.certificate)).status === 200);

  for (const [path, file] of [['/roots/0', layout.rootsFile], ['/intermediates/0', layout.intermediatesFile]] as const) {
    const { status, body } = await httpsRequest(`${managementUrl}${path}`, ca.certificate);
    if (status !== 200 || !body.includes('BEGIN CERTIFICATE')) {
      throw new Error(`pebble: fetching ${managementUrl}${path}: status ${status}`);
    }
    writeFileSync(file, body);
  }
  return { process: pebble, directoryUrl, managementUrl };
}
