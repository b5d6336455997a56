/**
 * What an operator does by hand, each a straight line of steps: see the state of every domain,
 * add one, remove one, revoke a certificate. `acme-certs` (functions/cli/) wires them.
 */

import { keySha256, parsePrivateKey, splitCertificates, parseCertificate, describeCertificate } from '../core/certificate.js';
import { REVOCATION_REASONS, type RevocationReason } from '../core/cli-args.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { parseDomainConfig, type KeyType } from '../core/domain-config.js';
import { domainRow, type DomainRow } from '../core/domain-report.js';
import { domainNameProblem } from '../core/domain-name.js';
import { parseHostReport, type HostReport } from '../core/host-report.js';
import { DomainFile, HOST_REPORTS_PREFIX, parseObjectKey } from '../core/layout.js';
import { parseLockHolder } from '../core/locks.js';
import { formatStatus, parseStatus } from '../core/status.js';
import type { CertificateStore, Issuer } from './ports.js';

/** A request about a domain the bucket does not hold (or already holds): nothing was changed. */
export class DomainStateError extends Error {
  override readonly name = 'DomainStateError';
}

/**
 * Returns a row for every domain folder: one listing of the bucket, then, concurrently, one GET of
 * each domain's status.json (and of a lock, only where one stands) and one of each host's report.
 */
export async function collectStatus(store: CertificateStore, now: Date, options: { concurrency: number; lapseFraction: number }): Promise<{ rows: DomainRow[]; invalidFolders: string[] }> {
  const objects = await store.listObjects();
  const folders = new Map<string, { status: boolean; lock: boolean }>();
  const invalidFolders = new Set<string>();
  const reportKeys: string[] = [];
  for (const { key } of objects) {
    if (key.startsWith(HOST_REPORTS_PREFIX)) reportKeys.push(key);
    const parsed = parseObjectKey(key);
    if (!parsed) continue;
    if (domainNameProblem(parsed.folder)) {
      invalidFolders.add(parsed.folder);
      continue;
    }
    const folder = folders.get(parsed.folder) ?? { status: false, lock: false };
    if (parsed.file === DomainFile.status) folder.status = true;
    if (parsed.file === DomainFile.lock) folder.lock = true;
    folders.set(parsed.folder, folder);
  }
  const reports = (await mapWithConcurrency(reportKeys, options.concurrency, (key) => store.readHostReport(key))).map(parseHostReport).filter((report): report is HostReport => report !== null);
  const domains = [...folders.keys()].sort();
  const rows = await mapWithConcurrency(domains, options.concurrency, async (domain) => {
    const folder = folders.get(domain) as { status: boolean; lock: boolean };
    const [status, lock] = await Promise.all([folder.status ? store.readStatus(domain) : null, folder.lock ? store.readLock(domain) : null]);
    return domainRow({ domain, statusText: status?.text ?? null, lockText: lock?.text ?? null, reports, now, lapseFraction: options.lapseFraction });
  });
  return { rows, invalidFolders: [...invalidFolders].sort() };
}

/**
 * Creates the folder of a new domain, with a config.json when anything but the defaults is asked
 * for. The configuration is checked by the same code the renew function reads it with; nothing is
 * written when it is refused or when the folder exists.
 */
export async function addDomain(store: CertificateStore, request: { domain: string; names: string[]; keyType: KeyType | null; profile: string | null; reuseKey: boolean }): Promise<{ config: string | null }> {
  const fields: Record<string, unknown> = {};
  if (request.names.length > 0) fields.names = [...new Set([request.domain, ...request.names])];
  if (request.keyType) fields.keyType = request.keyType;
  if (request.profile) fields.profile = request.profile;
  if (request.reuseKey) fields.reuseKey = true;
  const config = Object.keys(fields).length > 0 ? `${JSON.stringify(fields, null, 2)}\n` : null;
  try {
    parseDomainConfig(request.domain, config);
  } catch (error) {
    throw new DomainStateError(`${request.domain}: ${(error as Error).message}`);
  }
  if (await store.folderExists(request.domain)) throw new DomainStateError(`${request.domain} is already managed (its folder exists); nothing changed`);
  await store.createFolder(request.domain, config);
  return { config };
}

/**
 * Deletes a domain's folder (its versions stay in the versioned bucket for the stack's
 * noncurrentVersionDays). Refused while a renewal holds its lock. Returns the hosts that reported
 * the domain installed, which must each remove it themselves (the agent never removes a pair nginx
 * may use: see removalSteps).
 */
export async function removeDomain(store: CertificateStore, domain: string, now: Date): Promise<{ deleted: number; hosts: string[] }> {
  if (!(await store.folderExists(domain))) throw new DomainStateError(`${domain} is not managed (no folder ${domain}/ in the bucket); nothing changed`);
  const lock = await store.readLock(domain);
  const holder = lock ? parseLockHolder(lock.text) : null;
  if (holder && new Date(holder.expiresAt) > now) throw new DomainStateError(`${domain} is being renewed (run ${holder.runId} holds its lock until ${holder.expiresAt}); nothing changed: try again after the run`);
  const reportKeys = (await store.listHostReports()).map((report) => report.key);
  const reports = (await Promise.all(reportKeys.map((key) => store.readHostReport(key)))).map(parseHostReport).filter((report): report is HostReport => report !== null);
  const hosts = reports.filter((report) => report.domains[domain]).map((report) => report.host.name).sort();
  const deleted = await store.removeFolder(domain);
  return { deleted, hosts };
}

/** What each host must do after `remove`, in order. */
export function removalSteps(domain: string, hosts: readonly string[]): string[] {
  const where = hosts.length > 0 ? `on ${hosts.join(', ')} (the hosts that reported it installed)` : 'on every host that served it (no host reported it installed)';
  return [
    `1. ${where}: remove or disable every nginx server block that uses /etc/nginx/certs/${domain}/, then check and reload: nginx -t && s6-svc -h /service/nginx. Until then nginx keeps serving the installed certificate, which is no longer renewed.`,
    `2. On the same hosts: acme-sync --prune (or wait for a cron run with --prune). The agent removes the installed pair only once the bucket no longer has the domain and nginx no longer uses it; without --prune it keeps the pair installed, so nothing breaks.`,
    `3. Optionally, revoke the certificate first if its key may have leaked (acme-certs revoke ${domain} --reason keyCompromise --stage …), and remove the name's DNS records or its challenge proxy.`,
  ];
}

/**
 * Revokes the stored certificate of `domain` (RFC 8555 §7.6) with the account, then records it in
 * status.json, so the next run renews the domain; with keyCompromise, the stored key is recorded as
 * refused, so that renewal makes a new key even with `reuseKey`.
 */
export async function revokeDomain(store: CertificateStore, issuer: () => Promise<Issuer>, domain: string, reason: RevocationReason, now: Date): Promise<{ serial: string }> {
  const files = await store.readDomain(domain);
  const [leaf] = splitCertificates(files.fullChain ?? '');
  if (!leaf) throw new DomainStateError(`${domain} has no stored certificate to revoke (no ${DomainFile.fullChain}); nothing changed`);
  const serial = describeCertificate(parseCertificate(leaf, DomainFile.fullChain)).serial;
  const status = parseStatus(files.status);
  if (status?.revoked?.serial === serial) throw new DomainStateError(`${domain}: serial ${serial} was already revoked ${status.revoked.at}; nothing changed`);
  await (await issuer()).revoke(leaf, REVOCATION_REASONS[reason]);
  const refusedKeySha256 = reason === 'keyCompromise' && files.key ? keySha256(parsePrivateKey(files.key)) : undefined;
  const base = status ?? { domain, names: [], keyType: null, serial: null, issuer: null, notBefore: null, notAfter: null, renewedAt: null, files: {}, lastAttempt: null };
  const next = { ...base, revoked: { serial, at: now.toISOString(), reason }, ...(refusedKeySha256 ? { refusedKeySha256 } : {}) };
  const recorded = await store.writeStatusIfMatch(domain, formatStatus(next), files.statusEtag);
  if (!recorded) throw new DomainStateError(`${domain}: serial ${serial} is revoked, but status.json changed meanwhile (a renewal?), so the revocation is not recorded: check with status, and renew ${domain} --force if it still serves serial ${serial}`);
  return { serial };
}
