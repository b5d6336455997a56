import { startLogged, waitUntilReady, type ReplicaProcess } from './processes.js';

/** Starts moto_server (all AWS services in one process) and returns once it answers HTTP. */
export async function startMoto(port: number, logFile: string, started: ReplicaProcess[]): Promise<{ process: ReplicaProcess; endpoint: string }> {
  const endpoint = `http://127.0.0.1:${port}`;
  const moto = await startLogged('moto', 'moto_server', ['-H', '127.0.0.1', '-p', String(port)], logFile, started);
  await waitUntilReady(moto, `AWS endpoint ${endpoint}`, async () => (await fetch(`${endpoint}/moto-api/`)).status < 500);
  return { process: moto, endpoint };
}
