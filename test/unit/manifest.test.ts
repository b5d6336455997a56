/**
 * The bucket manifest (core/manifest.ts): built from a listing, written and read back, refused
 * when a listing could not have produced it; one line per case.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildBucketView, formatManifest, parseManifest, sameView, withFolders, type BucketView } from '../../functions/core/manifest.js';

const writtenAt = new Date('2026-05-01T03:05:12Z');
const listing = [
  { key: 'b.test/', etag: '"m"' },
  { key: 'b.test/config.json', etag: '"c"' },
  { key: 'a.test/domain.key', etag: '"k1"' },
  { key: 'a.test/domain.crt', etag: '"c1"' },
  { key: 'a.test/status.json', etag: '"s1"' },
  { key: 'a.test/renew.lock', etag: '"l"' },
  { key: 'a.test/signed.crt', etag: '"x"' },
  { key: '.host-report.AID.web1.json', etag: '"r"' },
  { key: '.manifest.json', etag: '"old"' },
  { key: '/stray/domain.crt', etag: '"s"' },
  { key: '__proto__/domain.crt', etag: '"p"' },
];
const view: BucketView = {
  folders: [
    { folder: '__proto__', etags: { 'domain.crt': '"p"' }, status: false },
    { folder: 'a.test', etags: { 'domain.crt': '"c1"', 'domain.key': '"k1"' }, status: true },
    { folder: 'b.test', etags: {}, status: false },
  ],
  strayKeys: ['/stray/domain.crt'],
};

test('builds the view a listing gives: each folder\'s pair ETags and whether status.json is there, keys that start with "/", and nothing of the top-level objects', () => {
  const built = buildBucketView(listing);

  assert.deepEqual(built, view);
});

test('a manifest written from a view reads back as the same view', () => {
  const text = formatManifest(view, writtenAt);

  const parsed = parseManifest(text);

  assert.ok('manifest' in parsed, JSON.stringify(parsed));
  assert.equal(parsed.manifest.writtenAt, writtenAt.toISOString());
  assert.ok(sameView(parsed.manifest, view));
  assert.deepEqual({ folders: parsed.manifest.folders, strayKeys: parsed.manifest.strayKeys }, view);
});

test('writes one folder a line, with the file names S3 shows', () => {
  const lines = formatManifest(view, writtenAt).split('\n');

  assert.equal(lines.find((line) => line.includes('"a.test"')), '{"folder":"a.test","etags":{"domain.crt":"\\"c1\\"","domain.key":"\\"k1\\""},"status":true},');
});

const compared: { name: string; a: BucketView; b: BucketView; same: boolean }[] = [
  { name: 'the same folders and ETags, whatever the order they came in', a: view, b: buildBucketView([...listing].reverse()), same: true },
  { name: 'a renewed certificate (a new domain.crt ETag)', a: view, b: { ...view, folders: view.folders.map((folder) => (folder.folder === 'a.test' ? { ...folder, etags: { ...folder.etags, 'domain.crt': '"c2"' } } : folder)) }, same: false },
  { name: 'a new key alone', a: view, b: { ...view, folders: view.folders.map((folder) => (folder.folder === 'a.test' ? { ...folder, etags: { ...folder.etags, 'domain.key': '"k2"' } } : folder)) }, same: false },
  { name: 'a status.json that appeared', a: view, b: { ...view, folders: view.folders.map((folder) => (folder.folder === 'b.test' ? { ...folder, status: true } : folder)) }, same: false },
  { name: 'a new folder', a: view, b: { ...view, folders: [...view.folders, { folder: 'c.test', etags: {}, status: false }] }, same: false },
  { name: 'a removed folder', a: view, b: { ...view, folders: view.folders.slice(1) }, same: false },
  { name: 'a stray key gone', a: view, b: { ...view, strayKeys: [] }, same: false },
];

for (const { name, a, b, same } of compared) {
  test(`compares two views: ${name} ${same ? 'is the same' : 'differs'}`, () => {
    assert.equal(sameView(a, b), same);
  });
}

test('a status.json rewritten (the watch records what is served) does not change the view', () => {
  const rewritten = listing.map((object) => (object.key === 'a.test/status.json' ? { ...object, etag: '"s2"' } : object));

  assert.ok(sameView(buildBucketView(rewritten), view));
});

const manifestOf = (fields: Record<string, unknown>) => JSON.stringify({ format: 'acme-certificates/manifest', version: 1, writtenAt: writtenAt.toISOString(), strayKeys: [], folders: [], ...fields });
const refused: { name: string; text: string; problem: RegExp }[] = [
  { name: 'text that is not JSON', text: '{"format":', problem: /not JSON/ },
  { name: 'JSON that is not a manifest', text: '{"domains":{}}', problem: /not a manifest/ },
  { name: 'a list', text: '[]', problem: /not a manifest/ },
  { name: 'another version (a newer renew function)', text: manifestOf({ version: 2 }), problem: /version 2, and this agent reads version 1/ },
  { name: 'no write time', text: manifestOf({ writtenAt: 'yesterday' }), problem: /writtenAt/ },
  { name: 'folders that are not a list', text: manifestOf({ folders: { 'a.test': {} } }), problem: /"folders" is not a list/ },
  { name: 'a folder name with a slash (a path, not a folder)', text: manifestOf({ folders: [{ folder: '../etc', etags: {}, status: false }] }), problem: /folder 1: no folder name a listing could show/ },
  { name: 'an empty folder name', text: manifestOf({ folders: [{ folder: '', etags: {}, status: false }] }), problem: /folder 1: no folder name/ },
  { name: 'a folder name longer than any key', text: manifestOf({ folders: [{ folder: 'a'.repeat(1025), etags: {}, status: false }] }), problem: /no folder name/ },
  { name: 'a folder listed twice', text: manifestOf({ folders: [{ folder: 'a.test', etags: {}, status: false }, { folder: 'a.test', etags: {}, status: true }] }), problem: /folder 2: "a.test" is listed twice/ },
  { name: 'an ETag that is not a string', text: manifestOf({ folders: [{ folder: 'a.test', etags: { 'domain.crt': 42 }, status: true }] }), problem: /ETag is not a short string/ },
  { name: 'an ETag of a megabyte', text: manifestOf({ folders: [{ folder: 'a.test', etags: { 'domain.key': 'x'.repeat(1 << 20) }, status: true }] }), problem: /ETag is not a short string/ },
  { name: 'a status that is not true or false', text: manifestOf({ folders: [{ folder: 'a.test', etags: {}, status: 'yes' }] }), problem: /"status" is not true or false/ },
  { name: 'a folder that is not an object', text: manifestOf({ folders: ['a.test'] }), problem: /folder 1: not an object/ },
  { name: 'a stray key that does not start with "/"', text: manifestOf({ strayKeys: ['a.test/domain.crt'] }), problem: /"strayKeys"/ },
];

for (const { name, text, problem } of refused) {
  test(`refuses a manifest with ${name}`, () => {
    const parsed = parseManifest(text);

    assert.ok('problem' in parsed, `accepted: ${text.slice(0, 100)}`);
    assert.match(parsed.problem, problem);
  });
}

test('keeps hostile folder names as data: the agent refuses them as it does after a listing', () => {
  const parsed = parseManifest(manifestOf({ folders: [{ folder: '__proto__', etags: {}, status: false }, { folder: '..', etags: {}, status: false }, { folder: 'UPPER.test', etags: {}, status: true }] }));

  assert.ok('manifest' in parsed);
  assert.deepEqual(parsed.manifest.folders.map((folder) => folder.folder), ['..', 'UPPER.test', '__proto__']);
});

test('ignores fields it does not know (a newer writer may add some)', () => {
  const parsed = parseManifest(manifestOf({ listedBy: 'renew', folders: [{ folder: 'a.test', etags: { 'domain.crt': '"c"', 'config.json': '"x"' }, status: true, versions: {} }] }));

  assert.ok('manifest' in parsed);
  assert.deepEqual(parsed.manifest.folders, [{ folder: 'a.test', etags: { 'domain.crt': '"c"' }, status: true }]);
});

test('replaces the folders a listing of some folders shows, and keeps the others', () => {
  const listed = buildBucketView([{ key: 'a.test/domain.crt', etag: '"c2"' }, { key: 'a.test/domain.key', etag: '"k2"' }, { key: 'a.test/status.json', etag: '"s"' }]);

  const merged = withFolders(view, listed, ['a.test']);

  assert.deepEqual(merged.folders.map((folder) => [folder.folder, folder.etags['domain.crt'] ?? null]), [['__proto__', '"p"'], ['a.test', '"c2"'], ['b.test', null]]);
  assert.deepEqual(merged.strayKeys, view.strayKeys);
});
