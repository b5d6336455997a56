/**
 * What a name serves over TLS, asked from outside as a browser asks: resolve the name, connect to
 * its HTTPS port (IPv6 first, IPv4 when IPv6 cannot connect), send the name as SNI, and read the
 * certificate offered. The certificate is not verified here: the point is to see what is served,
 * valid or not.
 */

import { connect, type PeerCertificate } from 'node:tls';
import type { ServedAnswer } from '../core/served.js';
import type { ServedProbe } from '../workflows/ports.js';
import { NameResolver } from './name-resolver.js';

export interface TlsServedProbeOptions {
  /** DNS server (`host:port`); default the system resolver. */
  dnsServer?: string;
  /** The HTTPS port: 443 in production. */
  port: number;
  timeoutMs: number;
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ECONNRESET', 'ETIMEDOUT']);

export class TlsServedProbe implements ServedProbe {
  private readonly resolver: NameResolver;

  constructor(private readonly options: TlsServedProbeOptions) {
    this.resolver = new NameResolver(options.dnsServer);
  }

  /** Returns the certificate `name` serves, or why no handshake completed. Never throws. */
  async probe(name: string): Promise<ServedAnswer> {
    const { v6, v4 } = await this.resolver.addresses(name);
    if (v6.length + v4.length === 0) return { name, reached: false, error: `${name} has no A or AAAA record` };
    const failures: string[] = [];
    for (const address of [...v6, ...v4]) {
      try {
        const certificate = await this.handshake(address, name);
        return { name, reached: true, serial: certificate.serialNumber.toLowerCase(), notBefore: new Date(certificate.valid_from).toISOString(), notAfter: new Date(certificate.valid_to).toISOString(), issuer: issuerOf(certificate) };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        failures.push(`${address}: ${(error as Error).message}`);
        if (!CONNECTION_ERRORS.has(code)) break;
      }
    }
    return { name, reached: false, error: failures.join('; ') };
  }

  private handshake(address: string, name: string): Promise<PeerCertificate> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address, port: this.options.port, servername: name, rejectUnauthorized: false, timeout: this.options.timeoutMs }, () => {
        const certificate = socket.getPeerCertificate();
        socket.end();
        if (!certificate?.serialNumber) reject(new Error('the handshake offered no certificate'));
        else resolve(certificate);
      });
      socket.on('timeout', () => socket.destroy(Object.assign(new Error(`no TLS handshake within ${this.options.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      socket.on('error', reject);
    });
  }
}

function issuerOf(certificate: PeerCertificate): string {
  const issuer = certificate.issuer as Record<string, string | string[]> | undefined;
  const part = (key: string) => (issuer?.[key] ? `${key}=${Array.isArray(issuer[key]) ? (issuer[key] as string[]).join('+') : issuer[key]}` : null);
  return ['CN', 'O', 'C'].map(part).filter(Boolean).join(', ');
}
