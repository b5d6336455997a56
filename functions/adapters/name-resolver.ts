/**
 * Resolving a name's addresses the way a CA or a browser on the internet does: through a given DNS
 * server (the replica's), or the system resolver.
 */

import { Resolver, lookup } from 'node:dns/promises';

export class NameResolver {
  private readonly resolver: Resolver | null;

  /** `dnsServer` (`host:port`) answers every query; without it, the system resolver does. */
  constructor(dnsServer: string | undefined) {
    this.resolver = dnsServer ? new Resolver({ timeout: 2000, tries: 2 }) : null;
    this.resolver?.setServers([dnsServer as string]);
  }

  /** Returns the IPv6 and IPv4 addresses of `name` (empty lists when it has none). */
  async addresses(name: string): Promise<{ v6: string[]; v4: string[] }> {
    if (this.resolver) {
      const [v6, v4] = await Promise.all([this.resolver.resolve6(name).catch(() => []), this.resolver.resolve4(name).catch(() => [])]);
      return { v6, v4 };
    }
    const all = await lookup(name, { all: true }).catch(() => []);
    return { v6: all.filter((entry) => entry.family === 6).map((entry) => entry.address), v4: all.filter((entry) => entry.family === 4).map((entry) => entry.address) };
  }
}
