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

/** How Pebble behaves where real CAs differ from one another (Pebble 2.4's environment variables). */
export interface PebbleBehaviour {
  /** PEBBLE_WFE_NONCEREJECT: the percentage of valid nonces Pebble rejects as bad. */
  nonceRejectPercent: number;
  /**
   * PEBBLE_VA_SLEEPTIME, in whole seconds (at least 1). Pebble 2.4 (va/va.go) makes three validation
   * attempts of each challenge at once, each after a sleep of `rand.Intn(seconds)` whole seconds
   * (0 to seconds − 1), and the challenge is valid once all three are done. Absent (the replica's
   * setting): PEBBLE_VA_NOSLEEP=1, validation at full speed.
   */
  validationSleepSeconds?: number;
}

/**
 * Starts Pebble with a fresh API certificate and `dnsServer` as its only resolver; returns once its
 * directory answers over HTTPS, after saving its (new at every start) root and intermediate.
 */
export async function startPebble(
  layout: PebbleLayout,
  ports: PebblePorts,
  dnsServer: string,
  behaviour: PebbleBehaviour,
  logFile: string,
  started: ReplicaProcess[],
): Promise<{ process: ReplicaProcess; directoryUrl: string; managementUrl: string }> {
  const { nonceRejectPercent, validationSleepSeconds } = behaviour;
  // Pebble ignores a value it cannot use and sleeps up to its default 5 s instead: refuse it here.
  if (validationSleepSeconds !== undefined && !(Number.isInteger(validationSleepSeconds) && validationSleepSeconds >= 1)) {
    throw new Error(`pebble: validationSleepSeconds must be a whole number of seconds, at least 1 (got ${validationSleepSeconds})`);
  }
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
  const environment: NodeJS.ProcessEnv = { ...process.env, PEBBLE_WFE_NONCEREJECT: String(nonceRejectPercent) };
  delete environment.PEBBLE_VA_NOSLEEP;
  delete environment.PEBBLE_VA_SLEEPTIME;
  if (validationSleepSeconds === undefined) environment.PEBBLE_VA_NOSLEEP = '1';
  else environment.PEBBLE_VA_SLEEPTIME = String(validationSleepSeconds);
  const pebble = await startLogged('pebble', 'pebble', ['-config', layout.config, '-dnsserver', dnsServer], logFile, started, environment);
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
