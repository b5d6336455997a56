/**
 * A sync run's view of the bucket, top to bottom: read the manifest with If-None-Match on the ETag
 * seen last → decide where the view comes from (core/view-plan.ts: the manifest, the last run's
 * view, or a full listing) → list the bucket when it must → keep what the next run needs. Only the
 * source of the listing changes: every domain is then planned, read and verified as after a full
 * listing, so a run with nothing to do makes one request, and still checks what is installed.
 */

import { describeError } from '../core/errors.js';
import { buildBucketView, parseManifest, withFolders, type BucketView } from '../core/manifest.js';
import { manifestNotice, planView, rememberView, type BucketMemory, type ManifestRead } from '../core/view-plan.js';
import type { SyncContext } from './sync-ports.js';

export interface BucketSight {
  view: BucketView;
  /** What to keep in the state file for the next run (null: nothing yet). */
  memory: BucketMemory | null;
  /** A manifest problem to tell, once. */
  notice: string | null;
}

/** Returns this run's view of the bucket; throws only when the bucket cannot be listed. */
export async function viewBucket(ctx: SyncContext, memory: BucketMemory | null): Promise<BucketSight> {
  const bucket = ctx.bucket.name;
  if (ctx.domains) {
    // The host policy may cover those folders only: they are listed by prefix, and the manifest,
    // which names every folder, is not read. Their fresh view replaces theirs in the one kept.
    const view = buildBucketView(await ctx.bucket.listObjects(ctx.domains));
    const kept = memory?.bucket === bucket ? { ...memory, view: withFolders(memory.view, view, ctx.domains) } : memory;
    return { view, memory: kept, notice: null };
  }
  const read = ctx.fullListingEveryMs === 0 ? { kind: 'not read' as const } : await readManifest(ctx, memory?.bucket === bucket ? memory.manifestEtag : null);
  const now = ctx.now();
  const plan = planView({ memory, bucket, read, now, fullListingEveryMs: ctx.fullListingEveryMs, prune: ctx.prune });
  const view = plan.source === 'listing' ? buildBucketView(await ctx.bucket.listObjects()) : plan.view;
  return { view, memory: rememberView({ memory, bucket, read, plan, view, now }), notice: manifestNotice(memory, read) };
}

/** Reads the manifest (If-None-Match on `etag`); never throws: a manifest that cannot be used says why. */
async function readManifest(ctx: SyncContext, etag: string | null): Promise<ManifestRead> {
  let answer;
  try {
    answer = await ctx.bucket.readManifest(etag);
  } catch (error) {
    return { kind: 'unusable', problem: 'unreadable', reason: describeError(error) };
  }
  switch (answer.kind) {
    case 'unchanged':
      return { kind: 'unchanged' };
    case 'missing':
      return { kind: 'unusable', problem: 'missing', reason: 'there is none' };
    case 'denied':
      return { kind: 'unusable', problem: 'denied', reason: answer.reason };
    case 'found': {
      const parsed = parseManifest(answer.text);
      return 'problem' in parsed ? { kind: 'unusable', problem: 'invalid', reason: parsed.problem } : { kind: 'found', etag: answer.etag, manifest: parsed.manifest };
    }
  }
}
