/**
 * Keeping the bucket manifest (core/manifest.ts) current, top to bottom: read the stored one →
 * compare it with the bucket (a listing the run already holds when it changed nothing since, else
 * a new one) → write it when it differs, conditionally on the one read → on a lost race, read and
 * list again. Run at the end of every renewal run and after `acme-certs add` and `remove`.
 *
 * Contract: what is written always comes from a listing made after the manifest it replaces was
 * read, and is written only if that manifest is still there (If-Match, or If-None-Match * when
 * there was none), so a slower run never puts back an older view over a newer one. Never throws:
 * a manifest that cannot be written is returned as the run's problem, logged, and costs the hosts
 * only their next full listing; nothing a run stored depends on it.
 */

import { describeError } from '../core/errors.js';
import { buildBucketView, formatManifest, parseManifest, sameView, withFolders, type BucketView } from '../core/manifest.js';
import type { CertificateStore, ListedObject, Logger, ConditionalObject } from './ports.js';

export interface ManifestContext {
  store: Pick<CertificateStore, 'listObjects'>;
  manifest: ConditionalObject;
  log: Logger;
  now: () => Date;
}

/** A conditional write lost this many times in a row: give up until the next run. */
const WRITE_ATTEMPTS = 4;

/**
 * Writes the manifest when it no longer describes the bucket. `unchangedListing`: a listing this
 * run made and changed nothing after (an idle renewal run's), compared as it is, so that an idle
 * run whose manifest is current lists once; null: list again. Returns null when the manifest is
 * current, or why it could not be made so.
 */
export async function publishManifest(ctx: ManifestContext, unchangedListing: readonly ListedObject[] | null): Promise<string | null> {
  try {
    let stored = await ctx.manifest.read();
    let known = unchangedListing ? buildBucketView(unchangedListing) : null;
    for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt += 1) {
      const current = storedView(stored?.text ?? null);
      if (known && current && sameView(known, current)) return null;
      // Listed after `stored` was read: whatever replaces it is at least as new as it.
      const view = buildBucketView(await ctx.store.listObjects());
      if (current && sameView(view, current)) return null;
      if (await ctx.manifest.writeIfMatch(formatManifest(view, ctx.now()), stored?.etag ?? null)) {
        ctx.log('info', 'wrote the bucket manifest', { step: 'manifest', folders: view.folders.length, replaced: stored ? (current ? 'an older one' : 'an unreadable one') : 'none' });
        return null;
      }
      ctx.log('info', 'another run wrote the bucket manifest first; reading it and listing the bucket again', { step: 'manifest', attempt });
      stored = await ctx.manifest.read();
      known = null;
    }
    const problem = `the bucket manifest was replaced by other runs ${WRITE_ATTEMPTS} times while this run wrote it; the next run writes it (hosts list the bucket in full meanwhile, at the latest)`;
    ctx.log('error', 'could not write the bucket manifest', { step: 'manifest', reason: problem });
    return problem;
  } catch (error) {
    const problem = `writing the bucket manifest: ${describeError(error)} (hosts pick up this run's certificates at their next full listing)`;
    ctx.log('error', 'could not write the bucket manifest', { step: 'manifest', reason: describeError(error) });
    return problem;
  }
}

/**
 * Brings the manifest's entries for `domains` up to date (a worker's, after renewing them): one
 * listing of each of these folders instead of the whole bucket, whose other entries are kept as
 * they are, written conditionally as publishManifest writes. Without a readable manifest, does
 * what publishManifest does. Never throws; returns null, or why the manifest could not be written.
 */
export async function publishFolders(ctx: ManifestContext, domains: readonly string[]): Promise<string | null> {
  try {
    for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt += 1) {
      const stored = await ctx.manifest.read();
      const current = storedView(stored?.text ?? null);
      if (!stored || !current) return await publishManifest(ctx, null);
      // Listed after `stored` was read, as publishManifest's listing is.
      const listed = buildBucketView((await Promise.all(domains.map((domain) => ctx.store.listObjects(domain)))).flat());
      const view = withFolders(current, listed, domains);
      if (sameView(view, current)) return null;
      if (await ctx.manifest.writeIfMatch(formatManifest(view, ctx.now()), stored.etag)) {
        ctx.log('info', 'updated the bucket manifest', { step: 'manifest', folders: domains.length });
        return null;
      }
    }
    const problem = `the bucket manifest was replaced by other runs ${WRITE_ATTEMPTS} times while this worker updated it; the next run writes it (hosts list the bucket in full meanwhile, at the latest)`;
    ctx.log('error', 'could not write the bucket manifest', { step: 'manifest', reason: problem });
    return problem;
  } catch (error) {
    ctx.log('error', 'could not write the bucket manifest', { step: 'manifest', reason: describeError(error) });
    return `writing the bucket manifest: ${describeError(error)} (hosts pick up these certificates at their next full listing)`;
  }
}

function storedView(text: string | null): BucketView | null {
  if (text === null) return null;
  const parsed = parseManifest(text);
  return 'manifest' in parsed ? parsed.manifest : null;
}
