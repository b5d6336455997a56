/**
 * What a name serves over TLS, asked from outside as a browser asks: resolve the name, connect to
 * its HTTPS port at every address it has (IPv6 and IPv4: a browser may reach any of them, so each
 * is asked), send the name as SNI, and read the certificate offered. The certificate is not
 * verified here: the point is to see what is served, valid or not.
 *
 * Lambda outside a dual-stack VPC has no IPv6 route: an IPv6 address that cannot be routed from
 * here is left out (it says nothing about the host); a name with only such addresses is answered
 * as not checkable, which the watch counts as unreachable.
 */

import { connect, type PeerCertificate } from 'node:tls';
import { isIPv6 } from 'node:net';
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

/** Errors that mean "this machine has no route to that IPv6 address", not "the host is down". */
const NO_ROUTE = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT']);

export class TlsServedProbe implements ServedProbe {
  private readonly resolver: NameResolver;

  constructor(private readonly options: TlsServedProbeOptions) {
    this.resolver = new NameResolver(options.dnsServer);
  }

  /** Returns what `name` serves at each of its addresses, or why no handshake completed. Never throws. */
  async probe(name: string): Promise<ServedAnswer[]> {
    const { v6, v4, problem } = await this.resolver.addresses(name);
    if (v6.length + v4.length === 0) return [{ name, address: '', reached: false, error: problem ?? `${name} has no A or AAAA record` }];
    const answers = await Promise.all([...v6, ...v4].map((address) => this.ask(name, address)));
    const routable = answers.filter((answer) => answer !== null);
    if (routable.length === 0) return [{ name, address: v6.join(' '), reached: false, error: `cannot be checked from here: ${name} has only IPv6 addresses and this network has no IPv6 route` }];
    return routable;
  }

  /** One address's answer; null when it is an IPv6 address this network cannot route to. */
  private async ask(name: string, address: string): Promise<ServedAnswer | null> {
    try {
      const certificate = await this.handshake(address, name);
      return { name, address, reached: true, serial: certificate.serialNumber.toLowerCase(), notBefore: new Date(certificate.valid_from).toISOString(), notAfter: new Date(certificate.valid_to).toISOString(), issuer: issuerOf(certificate) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (isIPv6(address) && NO_ROUTE.has(code)) return null;
      return { name, address, reached: false, error: `${address} port ${this.options.port}: ${(error as Error).message}` };
    }
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
