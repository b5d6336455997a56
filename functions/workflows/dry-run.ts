/**
 * A dry run: the whole issuance (preflight, order, validation, finalize, download, verification)
 * against a CA meant for tests (Let's Encrypt staging; Pebble on the replica), with every write to
 * the certificates bucket discarded. Like certbot's `renew --dry-run`, it proves the path works and
 * changes nothing people or hosts rely on. Challenge objects are still published (the CA must read
 * them) and removed.
 */

import { renewAll, type RunReport } from './renew-all.js';
import type { CertificateStore, FileVersions, HeldLock, RenewalContext } from './ports.js';

/**
 * Runs a forced renewal of `domains` (all when empty) that stores nothing. `ctx` must be built for
 * a dry run (renew/wiring.ts `dryRun`), so that its account step writes nothing either; the store
 * is wrapped again here, and the manifest left out, so that no context can make a dry run write to
 * the bucket.
 */
export function dryRun(domains: readonly string[], ctx: RenewalContext, concurrency: number): Promise<RunReport> {
  const store = readOnly(ctx.store);
  return renewAll({ ...(domains.length > 0 ? { domains: [...domains] } : {}), force: true }, { ...ctx, store, manifest: null }, concurrency);
}

/**
 * The store as a dry run sees it: every read passes through, every write is discarded. Locks are
 * not taken either: nothing the run does can conflict with a real renewal.
 */
export function readOnly(store: CertificateStore): CertificateStore {
  const discarded = async (): Promise<void> => undefined;
  return {
    listFolders: () => store.listFolders(),
    readDomain: (domain, listed) => store.readDomain(domain, listed),
    readDomainAgain: (domain, before) => store.readDomainAgain(domain, before),
    readVersions: (domain, versions) => store.readVersions(domain, versions),
    readStatus: (domain) => store.readStatus(domain),
    readLock: (domain) => store.readLock(domain),
    listHostReports: () => store.listHostReports(),
    readHostReport: (key) => store.readHostReport(key),
    readAttentionState: () => store.readAttentionState(),
    readAccountRecord: () => store.readAccountRecord(),
    listObjects: (domain) => store.listObjects(domain),
    folderExists: (domain) => store.folderExists(domain),
    writeFiles: async () => ({ versions: {}, etags: {} }),
    commitStatus: discarded,
    restorePair: async (): Promise<FileVersions> => ({}),
    writeStatusIfMatch: async () => true,
    createLock: async (domain): Promise<HeldLock> => ({ domain, etag: 'dry-run' }),
    replaceLock: async (domain): Promise<HeldLock> => ({ domain, etag: 'dry-run' }),
    releaseLock: discarded,
    writeAttentionState: discarded,
    writeAccountRecord: discarded,
    createFolder: discarded,
    removeFolder: async () => 0,
  };
}
