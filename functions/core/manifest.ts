/**
 * The bucket manifest, `.manifest.json` (layout.ts MANIFEST_KEY): what the sync agent needs of
 * every domain folder, the ETags of domain.crt and domain.key and whether status.json (the commit
 * point) is there. The renew function writes it when a run ends and it no longer describes the
 * bucket; a host with nothing to do then makes one conditional GET instead of listing the bucket.
 *
 * It only tells the agent which objects to read: everything read is verified exactly as after a
 * listing (status.json's digests, the versions it pins, the chain, the names, the dates). Pure:
 * building the agent's view of the bucket from a listing, writing and reading the manifest, and
 * comparing two views.
 */

import { DomainFile, parseObjectKey } from './layout.js';

/** The two files of a folder whose ETags the agent compares with what it installed. */
export type PairFile = typeof DomainFile.fullChain | typeof DomainFile.key;

/** What the agent needs of one folder of the bucket. */
export interface FolderView {
  /** The folder's name as listed, unvalidated: the agent refuses one that is not a domain name, as after a listing. */
  folder: string;
  /** The ETags of domain.crt and domain.key, by file name, where the folder has them. */
  etags: Partial<Record<PairFile, string>>;
  /**
   * Whether status.json is there. Its ETag is left out on purpose: the hourly watch rewrites it
   * (what each name serves), and the agent reads it as it is now, never by ETag.
   */
  status: boolean;
}

/** What the agent needs of the whole bucket. */
export interface BucketView {
  /** Every folder, sorted by name. */
  folders: FolderView[];
  /** Keys that start with "/": no folder holds them, and the agent reports each one. Sorted. */
  strayKeys: string[];
}

export const MANIFEST_FORMAT = 'acme-certificates/manifest';

export interface Manifest extends BucketView {
  format: typeof MANIFEST_FORMAT;
  /** A reader refuses another version and lists the bucket instead. */
  version: 1;
  writtenAt: string;
}

/** S3 keys are at most 1024 bytes; anything longer in a manifest is not from a listing. */
const MAX_KEY_LENGTH = 1024;

/** Returns the agent's view of a listing (objects outside the domain folders, like the hosts' reports, are left out). */
export function buildBucketView(objects: readonly { key: string; etag: string }[]): BucketView {
  const folders = new Map<string, FolderView>();
  const strayKeys: string[] = [];
  for (const { key, etag } of objects) {
    const parsed = parseObjectKey(key);
    if (!parsed) {
      if (key.startsWith('/')) strayKeys.push(key);
      continue;
    }
    const folder = folders.get(parsed.folder) ?? { folder: parsed.folder, etags: {}, status: false };
    if (parsed.file === DomainFile.fullChain || parsed.file === DomainFile.key) folder.etags[parsed.file] = etag;
    else if (parsed.file === DomainFile.status) folder.status = true;
    folders.set(parsed.folder, folder);
  }
  return sortedView([...folders.values()], strayKeys);
}

/** Returns the manifest's text: one folder a line, so that two versions of it compare line by line. */
export function formatManifest(view: BucketView, writtenAt: Date): string {
  const folder = (item: FolderView) => JSON.stringify({ folder: item.folder, etags: item.etags, status: item.status });
  const head = `{"format":${JSON.stringify(MANIFEST_FORMAT)},"version":1,"writtenAt":${JSON.stringify(writtenAt.toISOString())},"strayKeys":${JSON.stringify(view.strayKeys)},"folders":[`;
  return `${head}\n${view.folders.map(folder).join(',\n')}\n]}\n`;
}

/**
 * Returns the manifest in `text`, or why it cannot be used. Refuses anything a listing could not
 * have produced (a folder name with "/" or longer than a key, a duplicate folder, an ETag that is
 * not a short string); fields it does not know are ignored (a newer writer may add some).
 */
export function parseManifest(text: string): { manifest: Manifest } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  if (!isObject(value) || value.format !== MANIFEST_FORMAT) return { problem: `not a manifest (no "format": "${MANIFEST_FORMAT}")` };
  if (value.version !== 1) return { problem: `version ${JSON.stringify(value.version)}, and this agent reads version 1 (update the agent)` };
  if (typeof value.writtenAt !== 'string' || Number.isNaN(new Date(value.writtenAt).getTime())) return { problem: 'no readable writtenAt' };
  const view = parseView(value.folders, value.strayKeys);
  if ('problem' in view) return view;
  return { manifest: { format: MANIFEST_FORMAT, version: 1, writtenAt: value.writtenAt, ...view.view } };
}

/** Returns the view a manifest (or the agent's state file) holds, or what is wrong with it. */
export function parseView(folders: unknown, strayKeys: unknown): { view: BucketView } | { problem: string } {
  if (!Array.isArray(folders)) return { problem: '"folders" is not a list' };
  if (!Array.isArray(strayKeys) || !strayKeys.every((key) => typeof key === 'string' && key.startsWith('/') && key.length <= MAX_KEY_LENGTH)) return { problem: '"strayKeys" is not a list of keys that start with "/"' };
  const seen = new Set<string>();
  const parsed: FolderView[] = [];
  for (const [index, item] of folders.entries()) {
    const folder = parseFolder(item);
    if (typeof folder === 'string') return { problem: `folder ${index + 1}: ${folder}` };
    if (seen.has(folder.folder)) return { problem: `folder ${index + 1}: "${folder.folder.slice(0, 80)}" is listed twice` };
    seen.add(folder.folder);
    parsed.push(folder);
  }
  return { view: sortedView(parsed, strayKeys as string[]) };
}

function parseFolder(item: unknown): FolderView | string {
  if (!isObject(item)) return 'not an object';
  const { folder, etags, status } = item;
  if (typeof folder !== 'string' || folder.length === 0 || folder.length > MAX_KEY_LENGTH || folder.includes('/')) return 'no folder name a listing could show';
  if (typeof status !== 'boolean') return '"status" is not true or false';
  if (!isObject(etags)) return '"etags" is not an object';
  const fullChain = etags[DomainFile.fullChain];
  const key = etags[DomainFile.key];
  for (const etag of [fullChain, key]) {
    if (etag !== undefined && (typeof etag !== 'string' || etag.length === 0 || etag.length > 256)) return 'an ETag is not a short string';
  }
  return { folder, etags: pairEtags(fullChain as string | undefined, key as string | undefined), status };
}

/** True when two views show the same folders with the same ETags (the manifest's write time aside). */
export function sameView(a: BucketView, b: BucketView): boolean {
  return viewKey(a) === viewKey(b);
}

/** Returns `view` with its folders named in `listed` replaced by those of `listed` (a listing of some folders only, `--domains`). */
export function withFolders(view: BucketView, listed: BucketView, names: readonly string[]): BucketView {
  const replaced = new Set(names);
  return sortedView([...view.folders.filter((folder) => !replaced.has(folder.folder)), ...listed.folders.filter((folder) => replaced.has(folder.folder))], view.strayKeys);
}

function viewKey(view: BucketView): string {
  return JSON.stringify([view.strayKeys, view.folders.map((folder) => [folder.folder, folder.etags[DomainFile.fullChain] ?? null, folder.etags[DomainFile.key] ?? null, folder.status])]);
}

/** Returns the view in one order (folders by name, domain.crt before domain.key), so that equal views are equal text. */
function sortedView(folders: FolderView[], strayKeys: readonly string[]): BucketView {
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const canonical = folders.map(({ folder, etags, status }): FolderView => ({ folder, etags: pairEtags(etags[DomainFile.fullChain], etags[DomainFile.key]), status }));
  // A view read back from where it was written is in order already (the common case, every run).
  const inOrder = canonical.every((item, index) => index === 0 || byName((canonical[index - 1] as FolderView).folder, item.folder) < 0);
  return { folders: inOrder ? canonical : canonical.sort((a, b) => byName(a.folder, b.folder)), strayKeys: [...strayKeys].sort(byName) };
}

function pairEtags(fullChain: string | undefined, key: string | undefined): FolderView['etags'] {
  return { ...(fullChain !== undefined ? { [DomainFile.fullChain]: fullChain } : {}), ...(key !== undefined ? { [DomainFile.key]: key } : {}) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
