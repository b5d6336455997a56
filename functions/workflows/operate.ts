/**
 * What an operator does by hand, each a straight line of steps: see the state of every domain,
 * add one, remove one, revoke a certificate. `acme-certs` (functions/cli/) wires them.
 */

import { keySha256, parsePrivateKey, splitCertificates, parseCertificate, describeCertificate } from '../core/certificate.js';
import { REVOCATION_REASONS, type RevocationReason } from '../core/revocation.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { parseDomainConfig, type KeyType } from '../core/domain-config.js';
import { domainRow, type DomainRow } from '../core/domain-report.js';
import { domainNameProblem, printable } from '../core/domain-name.js';
import { judgeHosts, parseHostReport, type HostFinding, type HostReport } from '../core/host-report.js';
import { DomainFile, HOST_REPORTS_PREFIX, parseObjectKey } from '../core/layout.js';
import { lockBody, parseLockHolder } from '../core/locks.js';
import { formatStatus, parseStatus } from '../core/status.js';
import { describeError } from '../core/errors.js';
import type { CertificateStore, Issuer, Logger, ConditionalObject } from './ports.js';
import { publishManifest } from './publish-manifest.js';

/** A request about a domain the bucket does not hold (or already holds): nothing was changed. */
export class DomainStateError extends Error {
  override readonly name = 'DomainStateError';
}

/** How `status` judges: the watch's settings (renew/config.ts `watch`). */
export interface StatusSettings {
  concurrency: number;
  lapseFraction: number;
  mismatchGraceMs: number;
  hostStaleMs: number;
}

/**
 * Returns a row for every domain folder, and what the hosts do wrong (judged by the same rules as
 * the hourly watch): one listing of the bucket, then, concurrently, one GET of each domain's
 * status.json (and of a lock, only where one stands) and one of each host's report.
 */
export async function collectStatus(store: CertificateStore, now: Date, settings: StatusSettings): Promise<{ rows: DomainRow[]; hosts: HostFinding[]; invalidFolders: string[] }> {
  const objects = await store.listObjects();
  const folders = new Map<string, { status: boolean; lock: boolean }>();
  const invalidFolders = new Set<string>();
  const reportObjects: { key: string; storedAt: Date }[] = [];
  for (const { key, storedAt } of objects) {
    if (key.startsWith(HOST_REPORTS_PREFIX)) reportObjects.push({ key, storedAt });
    const parsed = parseObjectKey(key);
    if (!parsed) continue;
    if (domainNameProblem(parsed.folder)) {
      invalidFolders.add(printable(parsed.folder));
      continue;
    }
    const folder = folders.get(parsed.folder) ?? { status: false, lock: false };
    if (parsed.file === DomainFile.status) folder.status = true;
    if (parsed.file === DomainFile.lock) folder.lock = true;
    folders.set(parsed.folder, folder);
  }
  const reportTexts = await mapWithConcurrency(reportObjects, settings.concurrency, async ({ key, storedAt }) => ({ key, storedAt, text: await store.readHostReport(key) }));
  const reports = reportTexts.map(({ text }) => parseHostReport(text)).filter((report): report is HostReport => report !== null);
  const domains = [...folders.keys()].sort();
  const rows = await mapWithConcurrency(domains, settings.concurrency, async (domain) => {
    const folder = folders.get(domain) as { status: boolean; lock: boolean };
    const [status, lock] = await Promise.all([folder.status ? store.readStatus(domain) : null, folder.lock ? store.readLock(domain) : null]);
    return domainRow({ domain, statusText: status?.text ?? null, lockText: lock?.text ?? null, reports, now, lapseFraction: settings.lapseFraction, mismatchGraceMs: settings.mismatchGraceMs });
  });
  const stored = new Map(rows.map((row) => [row.domain, { serial: row.serial, renewedAt: row.renewedAt }]));
  const findings = judgeHosts(reportTexts, stored, now, settings.hostStaleMs, settings.mismatchGraceMs);
  for (const finding of findings) if (finding.domain) rows.find((row) => row.domain === finding.domain)?.attention.push(finding.detail);
  return { rows, hosts: findings.filter((finding) => !finding.domain), invalidFolders: [...invalidFolders].sort() };
}

/** What adding or removing a domain needs: the store, and the manifest to bring up to date after it (null: none). */
export interface FolderContext {
  store: CertificateStore;
  manifest: ConditionalObject | null;
  log: Logger;
  now: () => Date;
}

/**
 * Creates the folder of a new domain, with a config.json when anything but the defaults is asked
 * for, then brings the bucket manifest up to date, so that hosts install its placeholder at their
 * next run. The configuration is checked by the same code the renew function reads it with;
 * nothing is written when it is refused or when the folder exists. `manifestProblem`: the folder
 * is there, but the manifest could not be written (hosts see the folder at their next full listing).
 */
export async function addDomain(ctx: FolderContext, request: { domain: string; names: string[]; keyType: KeyType | null; profile: string | null; reuseKey: boolean }): Promise<{ config: string | null; manifestProblem: string | null }> {
  const { store } = ctx;
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
  return { config, manifestProblem: await refreshManifest(ctx) };
}

function refreshManifest(ctx: FolderContext): Promise<string | null> {
  return ctx.manifest ? publishManifest({ store: ctx.store, manifest: ctx.manifest, log: ctx.log, now: ctx.now }, null) : Promise.resolve(null);
}

/**
 * Deletes a domain's folder (its versions stay in the versioned bucket for the stack's
 * noncurrentVersionDays), then brings the bucket manifest up to date. Refused while a renewal
 * holds its lock. Returns the hosts that reported the domain installed, which must each remove it
 * themselves (the agent never removes a pair nginx may use: see removalSteps).
 */
export async function removeDomain(ctx: FolderContext & { runId: string; lockTtlMs: number }, domain: string, now: Date): Promise<{ deleted: number; hosts: string[]; manifestProblem: string | null }> {
  const { store } = ctx;
  if (!(await store.folderExists(domain))) throw new DomainStateError(`${domain} is not managed (no folder ${domain}/ in the bucket); nothing changed`);
  // The lock keeps a renewal from writing the folder while it goes; a run that listed the folder
  // before finds it gone once it holds the lock (renew-domain.ts).
  const lock = await store.createLock(domain, lockBody(ctx.runId, now, ctx.lockTtlMs));
  if (!lock) {
    const holder = parseLockHolder((await store.readLock(domain))?.text);
    throw new DomainStateError(`${domain} is being renewed${holder ? ` (run ${holder.runId} holds its lock until ${holder.expiresAt})` : ''}; nothing changed: try again after the run`);
  }
  const reportKeys = (await store.listHostReports()).map((report) => report.key);
  const reports = (await Promise.all(reportKeys.map((key) => store.readHostReport(key)))).map(parseHostReport).filter((report): report is HostReport => report !== null);
  const hosts = reports.filter((report) => report.domains[domain]).map((report) => report.host.name).sort();
  try {
    // The lock goes with the folder.
    const deleted = await store.removeFolder(domain);
    return { deleted, hosts, manifestProblem: await refreshManifest(ctx) };
  } catch (error) {
    await store.releaseLock(lock).catch(() => undefined);
    throw error;
  }
}

/** What each host must do after `remove`, in order. */
export function removalSteps(domain: string, hosts: readonly string[]): string[] {
  const where = hosts.length > 0 ? `on ${hosts.join(', ')} (the hosts that reported it installed)` : 'on every host that served it (no host reported it installed)';
  return [
    `1. ${where}: remove or disable every nginx server block that uses /etc/nginx/certs/${domain}/, then check and reload: nginx -t && s6-svc -h /service/nginx. Until then nginx keeps serving the installed certificate, which is no longer renewed.`,
    `2. On the same hosts: acme-sync --prune. The agent removes the installed pair only once the bucket no longer has the domain and nginx no longer uses it; without --prune it keeps the pair installed, so nothing breaks.`,
    `3. When the name goes away too: remove its DNS records and its challenge proxy server block.`,
  ];
}

/** The certificate is revoked at the CA, but status.json could not record it: the operator must know (exit 1, not "nothing changed"). */
export class RevokedNotRecordedError extends Error {
  override readonly name = 'RevokedNotRecordedError';
}

/**
 * Revokes the certificate status.json commits to (RFC 8555 §7.6: the pair it pins by S3 version,
 * not files a failed renewal may have written after it) with the account, under the domain's
 * renewal lock, then records it in status.json, so the next run renews the domain; with
 * keyCompromise the stored key is recorded as refused, so that renewal makes a new key even with
 * `reuseKey`. Revoking again what the CA already revoked is not an error (a retry after a lost
 * answer or a lost record).
 */
export async function revokeDomain(ctx: { store: CertificateStore; issuer: () => Promise<Issuer>; runId: string; lockTtlMs: number }, domain: string, reason: RevocationReason, now: Date): Promise<{ serial: string }> {
  const { store } = ctx;
  const lock = await store.createLock(domain, lockBody(ctx.runId, now, ctx.lockTtlMs));
  if (!lock) throw new DomainStateError(`${domain} is being renewed (its lock stands); nothing changed: try again after the run`);
  try {
    const files = await store.readDomain(domain);
    const status = parseStatus(files.status);
    const pinned = status?.versions?.[DomainFile.fullChain] && status.versions[DomainFile.key] ? await store.readVersions(domain, status.versions) : null;
    const fullChain = pinned?.fullChain ?? files.fullChain;
    const keyPem = pinned?.key ?? files.key;
    const [leaf] = splitCertificates(fullChain ?? '');
    if (!leaf) throw new DomainStateError(`${domain} has no stored certificate to revoke (no ${DomainFile.fullChain}); nothing changed`);
    const serial = describeCertificate(parseCertificate(leaf, DomainFile.fullChain)).serial;
    if (status?.serial && status.serial !== serial) throw new DomainStateError(`${domain}: status.json names serial ${status.serial}, but its pinned ${DomainFile.fullChain} holds ${serial}; nothing changed (the next run repairs the folder)`);
    if (status?.revoked?.serial === serial) throw new DomainStateError(`${domain}: serial ${serial} was already revoked ${status.revoked.at}; nothing changed`);
    await (await ctx.issuer()).revoke(leaf, REVOCATION_REASONS[reason]);
    const refusedKeySha256 = reason === 'keyCompromise' && keyPem ? keySha256(parsePrivateKey(keyPem)) : undefined;
    const revoked = { serial, at: now.toISOString(), reason };
    let current = { text: files.status, etag: files.statusEtag };
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const base = parseStatus(current.text) ?? { domain, names: [], keyType: null, serial: null, issuer: null, notBefore: null, notAfter: null, renewedAt: null, files: {}, lastAttempt: null };
      const next = { ...base, revoked, ...(refusedKeySha256 ? { refusedKeySha256 } : {}) };
      const recorded = await store.writeStatusIfMatch(domain, formatStatus(next), current.etag).catch((error: unknown) => {
        throw new RevokedNotRecordedError(`${domain}: serial ${serial} is revoked at the CA, but status.json could not record it (${describeError(error)}): run the same revoke again (the CA's "already revoked" counts as done), then renew ${domain} --force`);
      });
      if (recorded) return { serial };
      const again = await store.readStatus(domain);
      current = { text: again?.text ?? null, etag: again?.etag ?? null };
    }
    throw new RevokedNotRecordedError(`${domain}: serial ${serial} is revoked at the CA, but status.json kept changing, so the revocation is not recorded: run the same revoke again, then renew ${domain} --force`);
  } finally {
    await store.releaseLock(lock).catch(() => undefined);
  }
}
