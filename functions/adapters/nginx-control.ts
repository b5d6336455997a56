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
   * Returns `expected` once nginx serves it for `name` (TLS with SNI), polling until then or until
   * `timeoutMs` passes, when it returns the other serial last served (null: none): a reload takes effect 0.1–0.5 s
   * (seconds with many sites) after the signal.
   *
   * One handshake with the new certificate is not enough: on SIGHUP the nginx master starts the
   * new workers, sleeps 100 ms, and only then tells the old ones to stop accepting, so for that
   * while a connection may reach either generation. The serial counts as served once it is seen
   * again after `settleMs` (longer than that overlap).
   */
  async waitForServedSerial(name: string, expected: string, timeoutMs: number, settleMs = 300): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    let other: string | null = null;
    let seenAt: number | null = null;
    for (;;) {
      const served = await this.servedSerial(name).catch(() => null);
      if (served !== expected) {
        other = served;
        seenAt = null;
      } else if (seenAt === null) seenAt = Date.now();
      else if (Date.now() - seenAt >= settleMs) return expected;
      // Not settled by the deadline: what else nginx served (null: no certificate at all).
      if (Date.now() >= deadline) return other;
      await new Promise((resolve) => setTimeout(resolve, served === expected ? settleMs : 100));
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
