/**
 * Resolving a name's addresses the way a CA or a browser on the internet does: through a given DNS
 * server (the replica's), or the system's DNS servers (/etc/resolv.conf: in Lambda, the VPC or AWS
 * resolver). Queries go to the DNS servers directly (not through getaddrinfo), so a failure says
 * what happened: the name does not exist, the server failed, it did not answer, or it cannot be
 * reached. Like Let's Encrypt, a failed AAAA or A lookup is a failure even when the other type
 * answered: the CA's own lookup would fail the same way.
 */

import { Resolver } from 'node:dns/promises';

export type Resolution = { v6: string[]; v4: string[]; problem: null } | { v6: string[]; v4: string[]; problem: string };

export class NameResolver {
  private readonly resolver: Resolver;
  private readonly server: string;

  /** `dnsServer` (`host:port`) answers every query; without it, the system's DNS servers do. */
  constructor(dnsServer: string | undefined) {
    this.resolver = new Resolver({ timeout: 2000, tries: 2 });
    if (dnsServer) this.resolver.setServers([dnsServer]);
    this.server = dnsServer ?? this.resolver.getServers().join(', ');
  }

  /**
   * Returns the IPv6 and IPv4 addresses of `name`, and what went wrong when a lookup failed
   * (`problem`); a name with neither record, but no failure, is a problem too.
   */
  async addresses(name: string): Promise<Resolution> {
    const [v6, v4] = await Promise.all([this.lookUp(name, 'AAAA'), this.lookUp(name, 'A')]);
    const failure = v6.problem ?? v4.problem;
    if (failure) return { v6: v6.addresses, v4: v4.addresses, problem: failure };
    if (v6.addresses.length + v4.addresses.length === 0) return { v6: [], v4: [], problem: `${name} has no A or AAAA record` };
    return { v6: v6.addresses, v4: v4.addresses, problem: null };
  }

  private async lookUp(name: string, type: 'A' | 'AAAA'): Promise<{ addresses: string[]; problem: string | null }> {
    try {
      return { addresses: type === 'A' ? await this.resolver.resolve4(name) : await this.resolver.resolve6(name), problem: null };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENODATA') return { addresses: [], problem: null };
      return { addresses: [], problem: dnsProblem(code, name, type, this.server) };
    }
  }
}

/** Returns what a resolver error code means, in words, for `name`'s `type` lookup. */
export function dnsProblem(code: string, name: string, type: string, server: string): string {
  switch (code) {
    case 'ENOTFOUND':
      return `${name} does not exist (NXDOMAIN looking up ${type})`;
    case 'ESERVFAIL':
      return `the DNS server failed to answer for ${name} (SERVFAIL looking up ${type})`;
    case 'ETIMEOUT':
      return `no answer from the DNS server (${server}) looking up ${type} for ${name} (timed out)`;
    case 'ECONNREFUSED':
      return `the DNS server (${server}) cannot be reached looking up ${type} for ${name} (connection refused)`;
    case 'EREFUSED':
      return `the DNS server refused to answer for ${name} (REFUSED looking up ${type})`;
    default:
      return `looking up ${type} for ${name} failed (${code || 'unknown error'})`;
  }
}
