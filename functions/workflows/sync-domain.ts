/**
 * Syncing one domain folder to the web host, top to bottom: find what is installed → plan → (fetch
 * and verify the bucket's pair → plan again) → carry the plan out. The decisions are
 * core/sync-plan.ts's; this file only reads, verifies and installs.
 *
 * Contract: never installs a pair that fails verification, never throws (a failure is part of the
 * result), and installs atomically (the adapter swaps a symlink).
 */

import { describeCertificate, parseCertificate, parsePrivateKey, sha256, splitCertificates } from '../core/certificate.js';
import { describeError } from '../core/errors.js';
import { DomainFile, domainObjectKey } from '../core/layout.js';
import type { FolderView, PairFile } from '../core/manifest.js';
import { createPlaceholder, isPlaceholder } from '../core/placeholder.js';
import { parseStatus } from '../core/status.js';
import { planDomain, type DomainChange, type DomainPlan, type DomainRecord, type FetchedPair, type InstalledPair, type PairFacts } from '../core/sync-plan.js';
import { verifyCertificate } from '../core/verify.js';
import type { InstalledFiles, SyncContext } from './sync-ports.js';

/** What one domain's sync did. */
export interface DomainResult {
  domain: string;
  /**
   * `recorded`: nothing installed, but the record changed (new ETags for the same pair);
   * `restored`: installed, then put back because nginx rejected the configuration with it.
   */
  done: 'nothing' | 'recorded' | 'installed' | 'placeholder' | 'reconfirm' | 'restored';
  /** For installed, placeholder and reconfirm: what nginx must be confirmed serving, and the record to save then. */
  change?: DomainChange;
  /** For installed and placeholder: what `restore` needs to undo the install. */
  previous?: string | null;
  /** For recorded: the record to save now. */
  record?: DomainRecord;
  /** Why the domain is not in order (it is counted once per run, whatever else happened to it). */
  failure?: string;
  downloads: number;
  /** Reading the bucket's pair failed (one of its objects changed since the view of the bucket was made, or S3 failed): the next run lists the bucket. */
  readFailed?: boolean;
}

/**
 * Syncs `domain` from what the bucket shows of its folder (a listing's or the manifest's view);
 * `record` is what the agent saved when nginx last confirmed it.
 */
export async function syncDomain(domain: string, folder: FolderView, record: DomainRecord | null, ctx: SyncContext): Promise<DomainResult> {
  let downloads = 0;
  try {
    const installed = await installedPair(domain, record, ctx);
    const now = ctx.now();
    const listed = { fullChain: folder.etags[DomainFile.fullChain], key: folder.etags[DomainFile.key], status: folder.status };
    let plan = planDomain({ domain, listed, record, installed, now });
    let pems: { chainPem: string; keyPem: string } | null = null;
    let readFailed = false;
    if (plan.action === 'fetch') {
      const fetched = await fetchPair(domain, folder, ctx);
      downloads = fetched.downloads;
      pems = fetched.pems;
      readFailed = fetched.readFailed;
      plan = planDomain({ domain, listed, record, installed, fetched: fetched.pair, now });
    }
    return { ...(await carryOut(domain, plan, pems, record, ctx, downloads)), ...(readFailed ? { readFailed } : {}) };
  } catch (error) {
    return { domain, done: 'nothing', failure: describeError(error), downloads };
  }
}

async function carryOut(domain: string, plan: DomainPlan, pems: { chainPem: string; keyPem: string } | null, record: DomainRecord | null, ctx: SyncContext, downloads: number): Promise<DomainResult> {
  const failure = 'failure' in plan && plan.failure ? { failure: plan.failure } : {};
  const installedAt = ctx.now().toISOString();
  switch (plan.action) {
    case 'keep':
      return plan.record ? { domain, done: 'recorded', record: plan.record, ...failure, downloads } : { domain, done: 'nothing', ...failure, downloads };
    case 'install': {
      if (!pems) throw new Error('internal: an install plan without the fetched pair');
      const { previous, version } = await ctx.files.install(domain, pems.chainPem, pems.keyPem);
      return { domain, done: 'installed', previous, change: { domain, record: { ...plan.pair, etags: plan.etags, version, installedAt } }, ...failure, downloads };
    }
    case 'placeholder': {
      const pair = createPlaceholder(domain, ctx.now(), ctx.placeholderKey());
      const { previous, version } = await ctx.files.install(domain, pair.certificatePem, pair.keyPem);
      const facts = pairFacts({ certificatePem: pair.certificatePem, keyPem: pair.keyPem });
      return { domain, done: 'placeholder', previous, change: { domain, record: { ...facts, etags: null, version, installedAt } }, ...failure, downloads };
    }
    case 'reconfirm':
      return { domain, done: 'reconfirm', change: { domain, record: { ...plan.pair, etags: plan.etags, installedAt: record?.installedAt ?? installedAt } }, ...failure, downloads };
    case 'fetch':
      throw new Error('internal: a fetch plan after fetching');
  }
}

/**
 * Returns what is installed for `domain`: from the record when the live symlink still points at
 * the version it describes (one readlink, no parsing: the no-change path stays cheap), otherwise
 * from the files on disk. Null when nothing is installed.
 */
async function installedPair(domain: string, record: DomainRecord | null, ctx: SyncContext): Promise<InstalledPair | null> {
  if (record?.version) {
    const link = await ctx.files.linkTarget(domain);
    if (link === record.version) return { ...record, version: link };
  }
  const files = await ctx.files.current(domain);
  return files ? { ...pairFacts(files), version: files.version } : null;
}

/** Returns the facts of a pair on disk; an unreadable certificate has facts that never block a replacement. */
function pairFacts(files: Pick<InstalledFiles, 'certificatePem' | 'keyPem'>): PairFacts {
  const digests = { fullChain: sha256(files.certificatePem), key: sha256(files.keyPem) };
  try {
    const [leaf = ''] = splitCertificates(files.certificatePem);
    const facts = describeCertificate(parseCertificate(leaf));
    return { serial: facts.serial, notBefore: facts.notBefore.toISOString(), notAfter: facts.notAfter.toISOString(), names: facts.names, placeholder: isPlaceholder(files.certificatePem), digests };
  } catch {
    return { serial: 'unreadable', notBefore: new Date(0).toISOString(), notAfter: new Date(0).toISOString(), names: [], placeholder: false, digests };
  }
}

/**
 * Downloads status.json, then the domain.crt and domain.key it commits to, and returns the pair's
 * facts when the files match status.json's digests and the chain verifies. status.json is read as
 * it is now (the renew function's watch rewrites it without touching the pair); the pair is read
 * at the S3 versions status.json names, so files a renewal wrote before its status.json are never
 * paired with it (the previous pair stays installable until the commit), or, when status.json
 * names no versions, as listed.
 */
async function fetchPair(domain: string, folder: FolderView, ctx: SyncContext): Promise<{ pair: FetchedPair; pems: { chainPem: string; keyPem: string } | null; downloads: number; readFailed: boolean }> {
  let statusText: string;
  let chain: { text: string; etag: string };
  let keyFile: { text: string; etag: string };
  try {
    statusText = (await ctx.bucket.readObject({ key: domainObjectKey(domain, DomainFile.status) })).text;
    const versions = parseStatus(statusText)?.versions ?? {};
    const at = (file: PairFile) => ({ key: domainObjectKey(domain, file), etag: folder.etags[file], ...(versions[DomainFile.fullChain] && versions[DomainFile.key] ? { versionId: versions[file] as string } : {}) });
    [chain, keyFile] = await Promise.all([ctx.bucket.readObject(at(DomainFile.fullChain)), ctx.bucket.readObject(at(DomainFile.key))]);
  } catch (error) {
    return { pair: { verified: false, reason: `reading the bucket's pair: ${describeError(error)}` }, pems: null, downloads: 0, readFailed: true };
  }
  const [chainPem, keyPem] = [chain.text, keyFile.text];
  const recorded = parseStatus(statusText);
  if (!recorded || recorded.files[DomainFile.fullChain] !== sha256(chainPem) || recorded.files[DomainFile.key] !== sha256(keyPem)) {
    const reason = `${DomainFile.fullChain} and ${DomainFile.key} do not match the digests in ${DomainFile.status} (a renewal is being written, or the files were changed by hand)`;
    return { pair: { verified: false, reason }, pems: null, downloads: 3, readFailed: false };
  }
  try {
    verifyCertificate({ chainPem, key: parsePrivateKey(keyPem), names: [domain], namesMatch: 'include', trustedRoots: ctx.trustedRoots, now: ctx.now(), skewAllowanceMs: ctx.skewAllowanceMs });
  } catch (error) {
    return { pair: { verified: false, reason: `refused: ${describeError(error)}` }, pems: null, downloads: 3, readFailed: false };
  }
  // The ETags of what was read: while a renewal's commit is pending, the bucket's view shows newer
  // ones, so the next run reads again and picks the renewal up once status.json commits to it.
  const etags = { fullChain: chain.etag, key: keyFile.etag };
  return { pair: { verified: true, facts: pairFacts({ certificatePem: chainPem, keyPem }), etags }, pems: { chainPem, keyPem }, downloads: 3, readFailed: false };
}
