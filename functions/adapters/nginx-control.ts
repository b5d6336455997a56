/**
 * nginx on the web host: test its configuration, reload it (through s6), and ask it over TLS
 * which certificate it serves for a name.
 */

import { connect } from 'node:tls';
import type { CommandRunner } from './command-runner.js';

export interface NginxControlOptions {
  /** e.g. `nginx -t -c /etc/nginx/nginx.conf` */
  testCommand: readonly string[];
  /** e.g. `s6-svc -h /service/nginx` (SIGHUP: nginx re-reads its configuration and certificates). */
  reloadCommand: readonly string[];
  /** Where nginx serves TLS, for the post-reload check. */
  tlsHost: string;
  tlsPort: number;
}

export class NginxControl {
  constructor(
    private readonly run: CommandRunner,
    private readonly options: NginxControlOptions,
  ) {}

  /** Returns whether nginx accepts its configuration with the files now on disk, and what it said. */
  async testConfiguration(): Promise<{ ok: boolean; output: string }> {
    const result = await this.run(this.options.testCommand);
    return { ok: result.code === 0, output: result.output };
  }

  /** Sends the reload; throws when the command fails (s6-svc -h succeeds even when nginx later rejects the files). */
  async reload(): Promise<void> {
    const result = await this.run(this.options.reloadCommand);
    if (result.code !== 0) throw new Error(`${this.options.reloadCommand.join(' ')} exited ${result.code}: ${result.output}`);
  }

  /**
   * Returns the serial (lowercase hex) of the certificate nginx serves for `name` (TLS with SNI),
   * polling until it equals `expected` or `timeoutMs` passes: a reload takes effect 0.1–0.5 s
   * (seconds with many sites) after the signal.
   */
  async waitForServedSerial(name: string, expected: string, timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    let served: string | null = null;
    for (;;) {
      served = await this.servedSerial(name).catch(() => null);
      if (served === expected || Date.now() >= deadline) return served;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Returns the serial (lowercase hex) of the certificate nginx serves for `name`. */
  servedSerial(name: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.options.tlsHost, port: this.options.tlsPort, servername: name, rejectUnauthorized: false, timeout: 3000 }, () => {
        const certificate = socket.getPeerCertificate();
        socket.end();
        if (!certificate?.serialNumber) return reject(new Error('no certificate served'));
        resolve(certificate.serialNumber.toLowerCase());
      });
      socket.on('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
      socket.on('error', reject);
    });
  }
}
