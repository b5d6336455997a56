/**
 * Where a sync run takes its view of the bucket from (the agent's decision, pure): the manifest
 * (core/manifest.ts), read with If-None-Match on the ETag the agent saw last; the view the last run
 * used, when the manifest has not changed since; or a full listing, as before there was a manifest.
 *
 * A full listing is made whenever the manifest cannot be trusted to be complete: with `--prune`
 * (a pair is never removed on a manifest's word), with no view kept yet (a new state file, another
 * bucket), with no usable manifest, and at least every `fullListingEveryMs`, because an edit made
 * outside the renew function (a hand upload, an older renew function) shows only in a listing.
 */

import { parseView, type BucketView, type Manifest } from './manifest.js';

/** What the agent keeps of the bucket between runs (in its state file). */
export interface BucketMemory {
  bucket: string;
  /** The manifest's ETag as last read; null when there was none that could be used. */
  manifestEtag: string | null;
  /** When the last full listing was made. */
  listedAt: string;
  /** The view the last run used: the next one uses it again while the manifest is unchanged. */
  view: BucketView;
  /** The manifest problem last told (each is told once, until it changes). */
  manifestProblem?: ManifestProblem;
  /** A read of the last run failed (an object changed since the view was made?): the next run lists the bucket. */
  listAgain?: true;
}

export type ManifestProblem = 'missing' | 'denied' | 'unreadable' | 'invalid';

/** What reading the manifest gave. */
export type ManifestRead =
  /** Not read: `--domains` (the host policy may cover those folders only), or a full listing every run. */
  | { kind: 'not read' }
  /** 304: it still has the ETag the agent saw last. */
  | { kind: 'unchanged' }
  | { kind: 'found'; etag: string; manifest: Manifest }
  | { kind: 'unusable'; problem: ManifestProblem; reason: string };

export type ViewPlan =
  /** The bucket as the manifest just read shows it. */
  | { source: 'manifest'; view: BucketView }
  /** The view the last run used: the manifest has not changed since. */
  | { source: 'memory'; view: BucketView }
  | { source: 'listing'; reason: string };

export interface ViewPlanInput {
  memory: BucketMemory | null;
  bucket: string;
  read: ManifestRead;
  now: Date;
  fullListingEveryMs: number;
  prune: boolean;
}

/** Returns where this run's view of the bucket comes from. */
export function planView(input: ViewPlanInput): ViewPlan {
  const { memory, read } = input;
  if (input.prune) return { source: 'listing', reason: '--prune (a pair is never removed on the manifest\'s word)' };
  if (read.kind === 'not read') return { source: 'listing', reason: 'the manifest is not read' };
  if (!memory || memory.bucket !== input.bucket) return { source: 'listing', reason: 'no view of this bucket kept yet' };
  if (read.kind === 'unusable') return { source: 'listing', reason: `no usable manifest (${read.reason})` };
  if (memory.listAgain) return { source: 'listing', reason: 'a read of the last run failed' };
  const age = input.now.getTime() - new Date(memory.listedAt).getTime();
  if (!(age >= 0 && age < input.fullListingEveryMs)) return { source: 'listing', reason: `the last full listing was made ${memory.listedAt}` };
  if (read.kind === 'found') return { source: 'manifest', view: { folders: read.manifest.folders, strayKeys: read.manifest.strayKeys } };
  if (memory.manifestEtag === null) return { source: 'listing', reason: 'no manifest was read before' };
  return { source: 'memory', view: memory.view };
}

/**
 * Returns what to keep for the next run: the view this run used, the manifest's ETag as read
 * before that view was made (so a manifest written since is read next time), and when the last
 * full listing was made.
 */
export function rememberView(args: { memory: BucketMemory | null; bucket: string; read: ManifestRead; plan: ViewPlan; view: BucketView; now: Date }): BucketMemory {
  const { memory, read } = args;
  const kept = memory?.bucket === args.bucket ? memory : null;
  const manifestEtag = read.kind === 'found' ? read.etag : read.kind === 'unchanged' ? kept?.manifestEtag ?? null : null;
  const listedAt = args.plan.source === 'listing' ? args.now.toISOString() : kept?.listedAt ?? new Date(0).toISOString();
  return { bucket: args.bucket, manifestEtag, listedAt, view: args.view, ...(read.kind === 'unusable' ? { manifestProblem: read.problem } : {}) };
}

/** Returns what to tell about the manifest, once per problem (null: nothing new). */
export function manifestNotice(memory: BucketMemory | null, read: ManifestRead): string | null {
  if (read.kind !== 'unusable' || memory?.manifestProblem === read.problem) return null;
  switch (read.problem) {
    case 'missing':
      return 'the bucket has no manifest (.manifest.json, written by the renew function at the end of a run): this host lists the bucket in full every run until it is there';
    case 'denied':
      return `reading .manifest.json is denied (${read.reason}): this host lists the bucket in full every run (deploy the stack again for the current host policy)`;
    case 'invalid':
      return `.manifest.json cannot be used (${read.reason}): this host lists the bucket in full every run until the renew function writes it again`;
    case 'unreadable':
      return `.manifest.json could not be read (${read.reason}): this host lists the bucket in full until it can`;
  }
}

/** Returns the memory kept in a state file, or null when it is missing or not one (the next run lists in full). */
export function parseBucketMemory(value: unknown): BucketMemory | null {
  if (typeof value !== 'object' || value === null) return null;
  const memory = value as Record<string, unknown>;
  if (typeof memory.bucket !== 'string' || typeof memory.listedAt !== 'string' || Number.isNaN(new Date(memory.listedAt).getTime())) return null;
  if (memory.manifestEtag !== null && typeof memory.manifestEtag !== 'string') return null;
  const problems: readonly unknown[] = ['missing', 'denied', 'unreadable', 'invalid'];
  if (memory.manifestProblem !== undefined && !problems.includes(memory.manifestProblem)) return null;
  const view = memory.view as Record<string, unknown> | null | undefined;
  const parsed = parseView(view?.folders, view?.strayKeys);
  if ('problem' in parsed) return null;
  return {
    bucket: memory.bucket,
    manifestEtag: memory.manifestEtag,
    listedAt: memory.listedAt,
    view: parsed.view,
    ...(memory.manifestProblem ? { manifestProblem: memory.manifestProblem as ManifestProblem } : {}),
    ...(memory.listAgain === true ? { listAgain: true as const } : {}),
  };
}
