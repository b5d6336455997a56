/**
 * The one place that builds storage keys and host paths.
 *
 * Certificates bucket (private):
 *   <domain>/                    folder marker: the domain is managed (what the S3 console's "create folder" makes)
 *   <domain>/config.json         optional: names and key type
 *   <domain>/domain.key          domain private key (PEM, PKCS#8)
 *   <domain>/domain.csr          certificate signing request
 *   <domain>/signed.crt          leaf certificate
 *   <domain>/intermediate.pem    issuer chain (without the root)
 *   <domain>/domain.crt          leaf + intermediate: what nginx serves
 *   <domain>/status.json         commit point: written last, names the SHA-256 of each file above
 *   <domain>/renew.lock          held while one run renews the domain
 *
 *   .host-report.<identity>.<hostname>.json  each host agent's latest report (written with the host's own identity)
 *   .attention.json              what the renew function last told people (so it tells them only of changes)
 *   .acme-account.json           the ACME account's URL and the contact this tool last set (CAs may not return it)
 *   .order-ledger.json           the new orders placed in the order budget's window (core/order-budget.ts)
 *   .manifest.json               what the sync agent needs of every folder (core/manifest.ts), written by the renew function
 * (Top-level objects, not folders: every agent and renew run, older ones too, passes over them.)
 *
 * Challenges bucket (anonymous read on the challenge prefix only):
 *   .well-known/acme-challenge/<token>
 *
 * Web host (the sync agent swaps a symlink, so nginx sees the old pair or the new pair, never a mix):
 *   <certsDir>/<domain>                          symlink → .versions/<domain>/<version>
 *   <certsDir>/<domain>/domain.crt, domain.key   what nginx reads
 *   <certsDir>/.versions/<domain>/<version>/     one directory per installed pair
 */

import { domainNameProblem } from './domain-name.js';

/** The file names kept in each domain folder of the certificates bucket. */
export const DomainFile = {
  config: 'config.json',
  key: 'domain.key',
  csr: 'domain.csr',
  signed: 'signed.crt',
  intermediate: 'intermediate.pem',
  fullChain: 'domain.crt',
  status: 'status.json',
  lock: 'renew.lock',
} as const;
export type DomainFileName = (typeof DomainFile)[keyof typeof DomainFile];

/**
 * The hosts' reports: top-level objects, so that no listing by folder (the renew run's, an older
 * agent's) ever takes them for a domain. Domain folders are DNS names, which never start with a dot.
 */
export const HOST_REPORTS_PREFIX = '.host-report.';

/**
 * Returns the key of a host's report: it starts with the host's identity (the host policy lets an
 * identity write under its own id only), one per hostname.
 */
export function hostReportKey(identity: string, hostname: string): string {
  if (!/^[A-Za-z0-9:@._+=,-]{1,128}$/.test(identity)) throw new Error(`host identity "${identity.slice(0, 40)}" has characters a key must not hold`);
  const name = hostname.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 253) || 'host';
  return `${HOST_REPORTS_PREFIX}${identity}.${name}.json`;
}

/** Returns true when `key` is where the report of a host with `identity` may be (the identity wrote it). */
export function isReportKeyOf(key: string, identity: string): boolean {
  return key.startsWith(`${HOST_REPORTS_PREFIX}${identity}.`) && key.endsWith('.json');
}

/** The key of what the renew function last told people (a top-level object, like the reports). */
export const ATTENTION_STATE_KEY = '.attention.json';

/** The key of what the renew function knows of its ACME account (a top-level object, like the reports). */
export const ACCOUNT_RECORD_KEY = '.acme-account.json';

/**
 * The key of the bucket manifest (core/manifest.ts): what the sync agent needs of every domain
 * folder, so that a host with nothing to do reads one object instead of listing the bucket.
 */
export const MANIFEST_KEY = '.manifest.json';

/** The order budget's ledger (core/order-budget.ts): the new orders every run and worker placed lately. */
export const ORDER_LEDGER_KEY = '.order-ledger.json';

/** The prefix under which HTTP-01 challenge responses are published (RFC 8555 §8.3). */
export const CHALLENGE_PREFIX = '.well-known/acme-challenge/';

const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/** Returns the S3 key of `file` in the folder of `domain`. Throws on an invalid domain name. */
export function domainObjectKey(domain: string, file: DomainFileName): string {
  assertDomain(domain);
  return `${domain}/${file}`;
}

/** Returns the S3 key of the folder marker of `domain`. */
export function domainFolderKey(domain: string): string {
  assertDomain(domain);
  return `${domain}/`;
}

/**
 * Splits a certificates-bucket key into its domain folder and file name. Returns null for keys
 * outside any folder (top-level objects). The folder name is NOT validated here: callers report
 * invalid folders instead of silently dropping them.
 */
export function parseObjectKey(key: string): { folder: string; file: string } | null {
  const slash = key.indexOf('/');
  if (slash <= 0) return null;
  return { folder: key.slice(0, slash), file: key.slice(slash + 1) };
}

/** Returns true when `token` is a base64url ACME token (RFC 8555 §8.1), safe as a key and a URL path. */
export function isChallengeToken(token: string): boolean {
  return TOKEN.test(token);
}

/** Returns the challenges-bucket key for `token`. Throws on a token that is not base64url. */
export function challengeObjectKey(token: string): string {
  if (!isChallengeToken(token)) throw new Error(`challenge token is not base64url: "${token.slice(0, 40)}"`);
  return `${CHALLENGE_PREFIX}${token}`;
}

/** Returns the URL path at which a CA fetches the HTTP-01 response for `token` (RFC 8555 §8.3). */
export function challengePath(token: string): string {
  return `/${challengeObjectKey(token)}`;
}

/** Returns the URL at which a CA fetches the HTTP-01 response for `token` on `name` (RFC 8555 §8.3). */
export function challengeUrl(name: string, token: string, port = 80): string {
  const host = port === 80 ? name : `${name}:${port}`;
  return `http://${host}${challengePath(token)}`;
}

/** The files the sync agent installs for each domain on the web host. */
export const HostFile = { fullChain: 'domain.crt', key: 'domain.key' } as const;
export type HostFileName = (typeof HostFile)[keyof typeof HostFile];

/** Returns the directory on the web host for `domain` under `certsDir`. Throws on an invalid domain. */
export function hostDomainDir(certsDir: string, domain: string): string {
  assertDomain(domain);
  return `${trimSlash(certsDir)}/${domain}`;
}

/** Returns the path on the web host of `file` for `domain`. */
export function hostFilePath(certsDir: string, domain: string, file: HostFileName): string {
  return `${hostDomainDir(certsDir, domain)}/${file}`;
}

/** Returns the directory holding every installed version of `domain`'s pair. */
export function hostVersionsDir(certsDir: string, domain: string): string {
  assertDomain(domain);
  return `${trimSlash(certsDir)}/${HOST_VERSIONS}/${domain}`;
}

/** Returns the directory of one installed version; `version` is made of safe characters only. */
export function hostVersionDir(certsDir: string, domain: string, version: string): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(version)) throw new Error(`invalid version name "${version.slice(0, 40)}"`);
  return `${hostVersionsDir(certsDir, domain)}/${version}`;
}

/** Returns the relative symlink target for a version (relative, so the tree can be moved or mounted elsewhere). */
export function hostVersionLinkTarget(domain: string, version: string): string {
  assertDomain(domain);
  return `${HOST_VERSIONS}/${domain}/${version}`;
}

/** Returns the temporary name a new symlink is created under before it is renamed over the live one. */
export function hostLinkTempPath(certsDir: string, domain: string, nonce: string): string {
  assertDomain(domain);
  return `${trimSlash(certsDir)}/.${domain}.${nonce}.tmp`;
}

/** The hidden directory under the certificates directory that holds the installed versions. */
export const HOST_VERSIONS = '.versions';

function trimSlash(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

function assertDomain(domain: string): void {
  const problem = domainNameProblem(domain);
  if (problem) throw new Error(`invalid domain folder "${domain.slice(0, 80)}": ${problem}`);
}

/** Returns the path of `file` inside one installed version of `domain`'s pair. */
export function hostVersionFilePath(certsDir: string, domain: string, version: string, file: HostFileName): string {
  return `${hostVersionDir(certsDir, domain, version)}/${file}`;
}

/** Returns true when `entry` (a name found under a domain's versions directory) is a version name this agent makes. */
export function isHostVersionName(entry: string): boolean {
  return /^[A-Za-z0-9_-]{1,80}$/.test(entry);
}

/**
 * Returns a temporary name next to `path` (a state or lock file), unique by `nonce`: written or
 * renamed there first, so the file at `path` only ever changes by an atomic rename or link.
 */
export function hostSiblingTempPath(path: string, nonce: string): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(nonce)) throw new Error(`invalid temporary name "${nonce.slice(0, 40)}"`);
  return `${path}.${nonce}.tmp`;
}
