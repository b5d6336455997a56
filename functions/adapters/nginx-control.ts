/**
 * nginx on the web host: test its configuration, reload it (through s6), and ask it over TLS
 * which certificate it serves for a name.
 */

import { connect } from 'node:tls';
import { mapWithConcurrency } from '../core/concurrency.js';
import { certificatePaths, isConfigurationDump } from '../core/nginx-config.js';
import type { Nginx, NginxTest } from '../workflows/sync-ports.js';
import type { CommandRunner } from './command-runner.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface NginxControlOptions {
  /** e.g. `nginx -T -q -c /etc/nginx/nginx.conf`: with -T, nginx also prints the configuration it tested. */
  testCommand: readonly string[];
  /** nginx's configuration directory: relative paths in the configuration resolve against it. */
  confDir: string;
  /** e.g. `s6-svc -h /service/nginx` (SIGHUP: nginx re-reads its configuration and certificates). */
  reloadCommand: readonly string[];
  /** Where nginx serves TLS, for the post-reload check. */
  tlsHost: string;
  tlsPort: number;
}

export class NginxControl implements Nginx {
  constructor(
    private readonly run: CommandRunner,
    private readonly options: NginxControlOptions,
  ) {}

  /**
   * Returns whether nginx accepts its configuration with the files now on disk, what it said, and
   * (when the test command is nginx -T) the certificate paths its server blocks use.
   */
  async testConfiguration(): Promise<NginxTest> {
    const result = await this.run(this.options.testCommand);
    const ok = result.code === 0;
    const dumped = ok && isConfigurationDump(result.output);
    return { ok, output: dumped ? '' : result.output, certificatePaths: dumped ? certificatePaths(result.output, this.options.confDir) : null };
  }

  /** Sends the reload; throws when the command fails (s6-svc -h succeeds even when nginx later rejects the files). */
  async reload(): Promise<void> {
    const result = await this.run(this.options.reloadCommand);
    if (result.code !== 0) throw new Error(`${this.options.reloadCommand.join(' ')} exited ${result.code}: ${result.output}`);
  }

  /**
   * Asks nginx over TLS (with SNI) which certificate it serves for each name after a reload, and
   * returns, per check, `serial` when nginx is confirmed to serve it, otherwise the serial it still
   * serves (null: none) when `timeoutMs` runs out. A reload takes effect 0.1–0.5 s (seconds with
   * many sites) after the signal.
   *
   * One handshake with the new certificate is not enough: on SIGHUP the nginx master starts the new
   * workers, sleeps 100 ms, and only then tells the old ones to stop accepting, so for that while a
   * connection may reach either generation. Each name is polled until it shows its new serial;
   * then, once for all, `settleMs` (longer than that overlap) passes and every name is asked again.
   * A name that answers with another serial then is polled again, and so on until the deadline.
   */
  async confirmServed(checks: readonly { name: string; serial: string }[], timeoutMs: number, concurrency: number, settleMs = 300): Promise<(string | null)[]> {
    const deadline = Date.now() + timeoutMs;
    const served: (string | null)[] = checks.map(() => null);
    let pending = checks.map((check, index) => ({ check, index }));
    while (pending.length > 0) {
      await mapWithConcurrency(pending, concurrency, async ({ check, index }) => {
        served[index] = await this.pollUntilServed(check, deadline);
      });
      const seen = pending.filter(({ check, index }) => served[index] === check.serial);
      if (seen.length === 0) break;
      await sleep(settleMs);
      await mapWithConcurrency(seen, concurrency, async ({ check, index }) => {
        served[index] = await this.servedSerial(check.name).catch(() => null);
      });
      pending = seen.filter(({ check, index }) => served[index] !== check.serial);
      if (Date.now() >= deadline) break;
    }
    return served;
  }

  /** Returns `serial` once nginx serves it for `name`, or what it serves instead when `deadline` passes. */
  private async pollUntilServed(check: { name: string; serial: string }, deadline: number): Promise<string | null> {
    for (;;) {
      const served = await this.servedSerial(check.name).catch(() => null);
      if (served === check.serial || Date.now() >= deadline) return served;
      await sleep(100);
    }
  }

  /** Returns the serial (lowercase hex) of the certificate nginx serves for `name`. */
  async servedSerial(name: string): Promise<string> {
    const served = await this.handshake(name);
    if (!served) throw new Error('no certificate served');
    return served.serial;
  }

  /** Returns the certificate nginx serves for `name` (serial and DNS names), or null when nothing answers with one. */
  servedCertificate(name: string): Promise<{ serial: string; names: string[] } | null> {
    return this.handshake(name).catch(() => null);
  }

  private handshake(name: string): Promise<{ serial: string; names: string[] } | null> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.options.tlsHost, port: this.options.tlsPort, servername: name, rejectUnauthorized: false, timeout: 3000 }, () => {
        const certificate = socket.getPeerCertificate();
        socket.end();
        if (!certificate?.serialNumber) return resolve(null);
        const names = (certificate.subjectaltname ?? '').split(/,\s*/).filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4));
        resolve({ serial: certificate.serialNumber.toLowerCase(), names });
      });
      socket.on('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
      socket.on('error', reject);
    });
  }
}
