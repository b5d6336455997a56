/**
 * Judging one HTTP redirect as Let's Encrypt's validator does (Boulder `va/http.go`:
 * `processRedirect` and `extractRequestTarget`), so that the preflight follows what the CA follows
 * and refuses what it refuses. Pure: the adapter (adapters/http-preflight.ts) resolves, connects
 * and reads; this module only says where the next request goes, or why there is none.
 */

import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { domainNameProblem, printable } from './domain-name.js';

/**
 * The most redirects followed for one validation. Let's Encrypt documents 10 (Boulder's
 * `maxRedirect`); Boulder's check runs before its counter is raised, so it lets an 11th through.
 * The preflight holds to the documented limit rather than to that off-by-one.
 */
export const MAX_REDIRECTS = 10;
/** Boulder's `maxPathSize`: a longer redirect path is refused. */
const MAX_PATH_LENGTH = 2000;
/** The statuses Go's HTTP client treats as redirects; any other status is the answer. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/**
 * The redirects Boulder follows: the four the CA/Browser Forum Baseline Requirements
 * (section 3.2.2.4.19) allow. A 303 is refused (Boulder #5975, 2022), although Go would follow it.
 */
const FOLLOWED_STATUSES = new Set([301, 302, 307, 308]);

/** One request of a validation: the URL the CA asks and where it connects. */
export interface HopTarget {
  /** The URL asked, without fragment or user info. */
  url: string;
  scheme: 'http' | 'https';
  /** A lowercase domain name, or an IP address without brackets when `ipFamily` is set. */
  host: string;
  /** 4 or 6 when the redirect named an IP address (no DNS lookup); null for a domain name. */
  ipFamily: 4 | 6 | null;
  /** The port in the CA's terms, 80 or 443 (explicit or implied by the scheme); the adapter maps it. */
  port: 80 | 443;
  /** The Host header: the host, and the port when the URL names a port that is not the scheme's. */
  hostHeader: string;
  /** Path and query, as sent in the request line. */
  path: string;
}

/** What one request was answered with, as far as redirects are concerned. */
export interface HopAnswer {
  status: number;
  /** The Location header, when there is one. */
  location: string | undefined;
}

export type RedirectVerdict =
  | { kind: 'answer' }
  | { kind: 'follow'; target: HopTarget }
  | { kind: 'refuse'; reason: string };

/** Returns the first request of an HTTP-01 validation of `name`: `http://<name><path>` on port 80. */
export function firstHop(name: string, path: string): HopTarget {
  return { url: new URL(`http://${name}${path}`).href, scheme: 'http', host: name, ipFamily: null, port: 80, hostHeader: name, path };
}

/**
 * Returns what the CA does with `answer` to the request `from`: take it as the answer, follow it
 * to a new target, or refuse it (a refusal fails the validation). `asked` lists the URLs already
 * asked in this validation, `from`'s included; its length is the number of the redirect judged.
 */
export function judgeRedirect(from: HopTarget, answer: HopAnswer, asked: readonly string[]): RedirectVerdict {
  // Go returns a redirect status without a Location as the response (which the CA then refuses).
  if (!REDIRECT_STATUSES.has(answer.status) || !answer.location) return { kind: 'answer' };
  const redirect = asked.length;
  const refuse = (to: string, why: string): RedirectVerdict => ({ kind: 'refuse', reason: `${from.url} redirected to ${to} (redirect ${redirect}): ${why}` });
  let url: URL;
  try {
    url = new URL(answer.location, from.url);
  } catch {
    return refuse(`"${printable(answer.location)}"`, 'not a URL');
  }
  url.hash = '';
  url.username = '';
  url.password = '';
  const shown = shownUrl(url.href);
  if (redirect > MAX_REDIRECTS) return refuse(shown, `Let's Encrypt follows at most ${MAX_REDIRECTS} redirects`);
  if (!FOLLOWED_STATUSES.has(answer.status)) return refuse(shown, `Let's Encrypt does not follow a ${answer.status} redirect (only 301, 302, 307 and 308)`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return refuse(shown, `Let's Encrypt follows only http and https, not ${printable(url.protocol.slice(0, -1))}`);
  const scheme = url.protocol === 'http:' ? 'http' : 'https';
  const port = url.port === '' ? (scheme === 'http' ? 80 : 443) : Number(url.port);
  if (port !== 80 && port !== 443) return refuse(shown, `Let's Encrypt connects only to ports 80 and 443, not ${port}`);

  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const ipFamily = isIPv4(host) ? 4 : isIPv6(host) ? 6 : null;
  if (ipFamily !== null) {
    const reserved = reservedBlock(host, ipFamily);
    if (reserved) return refuse(shown, `Let's Encrypt does not connect to a reserved IP address (${reserved})`);
  } else {
    if (host.endsWith('.well-known')) return refuse(shown, `the host "${printable(host)}" ends in .well-known: the redirect is missing a "/" after the host name`);
    const problem = domainNameProblem(host);
    if (problem) return refuse(shown, `the host "${printable(host)}" is not a domain name Let's Encrypt accepts (${problem})`);
  }
  if (url.pathname.length > MAX_PATH_LENGTH) return refuse(shown, `Let's Encrypt refuses a redirect path longer than ${MAX_PATH_LENGTH} characters`);
  if (asked.includes(url.href)) return refuse(shown, 'a redirect loop (that URL was already asked)');

  const target: HopTarget = { url: url.href, scheme, host, ipFamily, port, hostHeader: url.host, path: `${url.pathname}${url.search}` };
  return { kind: 'follow', target };
}

/** A URL for a message: already percent-encoded by the URL parser, capped in length. */
function shownUrl(href: string): string {
  return href.length > 300 ? `${href.slice(0, 300)}…` : href;
}

/**
 * The IANA special-purpose address registries (IPv4 and IPv6), which Boulder refuses to connect
 * to whatever their "globally reachable" column says (iana/ip.go, the Baseline Requirements'
 * "Reserved IP Address"). Most specific first, so that the message names the narrowest block.
 */
const RESERVED_BLOCKS: readonly [string, string][] = [
  ['0.0.0.0/32', 'This host on this network, RFC 1122'],
  ['192.0.0.8/32', 'IPv4 dummy address, RFC 7600'],
  ['192.0.0.9/32', 'Port Control Protocol Anycast, RFC 7723'],
  ['192.0.0.10/32', 'Traversal Using Relays around NAT Anycast, RFC 8155'],
  ['192.0.0.170/32', 'NAT64/DNS64 Discovery, RFC 8880'],
  ['192.0.0.171/32', 'NAT64/DNS64 Discovery, RFC 8880'],
  ['192.88.99.2/32', '6a44-relay anycast address, RFC 6751'],
  ['255.255.255.255/32', 'Limited Broadcast, RFC 8190'],
  ['192.0.0.0/29', 'IPv4 Service Continuity Prefix, RFC 7335'],
  ['192.0.0.0/24', 'IETF Protocol Assignments, RFC 6890'],
  ['192.0.2.0/24', 'Documentation (TEST-NET-1), RFC 5737'],
  ['192.31.196.0/24', 'AS112-v4, RFC 7535'],
  ['192.52.193.0/24', 'AMT, RFC 7450'],
  ['192.88.99.0/24', 'Deprecated (6to4 Relay Anycast), RFC 7526'],
  ['192.175.48.0/24', 'Direct Delegation AS112 Service, RFC 7534'],
  ['198.51.100.0/24', 'Documentation (TEST-NET-2), RFC 5737'],
  ['203.0.113.0/24', 'Documentation (TEST-NET-3), RFC 5737'],
  ['169.254.0.0/16', 'Link Local, RFC 3927'],
  ['192.168.0.0/16', 'Private-Use, RFC 1918'],
  ['198.18.0.0/15', 'Benchmarking, RFC 2544'],
  ['172.16.0.0/12', 'Private-Use, RFC 1918'],
  ['100.64.0.0/10', 'Shared Address Space, RFC 6598'],
  ['0.0.0.0/8', 'This network, RFC 791'],
  ['10.0.0.0/8', 'Private-Use, RFC 1918'],
  ['127.0.0.0/8', 'Loopback, RFC 1122'],
  ['240.0.0.0/4', 'Reserved, RFC 1112'],
  ['::1/128', 'Loopback Address, RFC 4291'],
  ['::/128', 'Unspecified Address, RFC 4291'],
  ['2001:1::1/128', 'Port Control Protocol Anycast, RFC 7723'],
  ['2001:1::2/128', 'Traversal Using Relays around NAT Anycast, RFC 8155'],
  ['2001:1::3/128', 'DNS-SD Service Registration Protocol Anycast, RFC 9665'],
  ['::ffff:0:0/96', 'IPv4-mapped Address, RFC 4291'],
  ['64:ff9b::/96', 'IPv4-IPv6 Translation, RFC 6052'],
  ['100::/64', 'Discard-Only Address Block, RFC 6666'],
  ['100:0:0:1::/64', 'Dummy IPv6 Prefix, RFC 9780'],
  ['64:ff9b:1::/48', 'IPv4-IPv6 Translation, RFC 8215'],
  ['2001:2::/48', 'Benchmarking, RFC 5180'],
  ['2001:4:112::/48', 'AS112-v6, RFC 7535'],
  ['2620:4f:8000::/48', 'Direct Delegation AS112 Service, RFC 7534'],
  ['2001::/32', 'TEREDO, RFC 4380'],
  ['2001:3::/32', 'AMT, RFC 7450'],
  ['2001:db8::/32', 'Documentation, RFC 3849'],
  ['2001:10::/28', 'Deprecated (previously ORCHID), RFC 4843'],
  ['2001:20::/28', 'ORCHIDv2, RFC 7343'],
  ['2001:30::/28', 'Drone Remote ID Protocol Entity Tags, RFC 9374'],
  ['2001::/23', 'IETF Protocol Assignments, RFC 2928'],
  ['3fff::/20', 'Documentation, RFC 9637'],
  ['2002::/16', '6to4, RFC 3056'],
  ['5f00::/16', 'Segment Routing (SRv6) SIDs, RFC 9602'],
  ['fe80::/10', 'Link-Local Unicast, RFC 4291'],
  ['fc00::/7', 'Unique-Local, RFC 4193'],
];

const reservedLists = RESERVED_BLOCKS.map(([block, name]) => {
  const [network = '', bits = ''] = block.split('/');
  const family = isIPv4(network) ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(network, Number(bits), family);
  return { list, family, description: `${block}, ${name}` };
});

/** Returns the reserved block `address` lies in (`"127.0.0.0/8, Loopback, RFC 1122"`), or null. */
export function reservedBlock(address: string, family: 4 | 6): string | null {
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return reservedLists.find((entry) => entry.family === type && entry.list.check(address, type))?.description ?? null;
}
