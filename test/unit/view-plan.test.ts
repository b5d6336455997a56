/**
 * Where a sync run takes its view of the bucket from (core/view-plan.ts), table-tested: one line
 * per case.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BucketView, Manifest } from '../../functions/core/manifest.js';
import { manifestNotice, parseBucketMemory, planView, rememberView, type BucketMemory, type ManifestRead, type ViewPlanInput } from '../../functions/core/view-plan.js';

const now = new Date('2026-05-01T12:00:00Z');
const hour = 3_600_000;
const bucket = 'certs';
const kept: BucketView = { folders: [{ folder: 'a.test', etags: { 'domain.crt': '"c1"', 'domain.key': '"k1"' }, status: true }], strayKeys: [] };
const fresh: BucketView = { folders: [{ folder: 'a.test', etags: { 'domain.crt': '"c2"', 'domain.key': '"k2"' }, status: true }], strayKeys: [] };
const manifest: Manifest = { format: 'acme-certificates/manifest', version: 1, writtenAt: now.toISOString(), ...fresh };
const memory: BucketMemory = { bucket, manifestEtag: '"m1"', listedAt: new Date(now.getTime() - hour).toISOString(), view: kept };
const base: ViewPlanInput = { memory, bucket, read: { kind: 'unchanged' }, now, fullListingEveryMs: 6 * hour, prune: false };

const cases: { name: string; input: Partial<ViewPlanInput>; expect: ReturnType<typeof planView> | RegExp }[] = [
  { name: 'uses the last view when the manifest is unchanged (304)', input: {}, expect: { source: 'memory', view: kept } },
  { name: 'uses the manifest\'s view when it changed', input: { read: { kind: 'found', etag: '"m2"', manifest } }, expect: { source: 'manifest', view: fresh } },
  { name: 'uses a manifest that appeared after runs without one', input: { memory: { ...memory, manifestEtag: null }, read: { kind: 'found', etag: '"m2"', manifest } }, expect: { source: 'manifest', view: fresh } },
  { name: 'lists in full with --prune, whatever the manifest says', input: { prune: true, read: { kind: 'found', etag: '"m2"', manifest } }, expect: /--prune/ },
  { name: 'lists in full with a new state file', input: { memory: null }, expect: /no view of this bucket kept yet/ },
  { name: 'lists in full when the state file kept another bucket', input: { memory: { ...memory, bucket: 'other' } }, expect: /no view of this bucket kept yet/ },
  { name: 'lists in full without a manifest', input: { read: { kind: 'unusable', problem: 'missing', reason: 'there is none' } }, expect: /no usable manifest \(there is none\)/ },
  { name: 'lists in full when the manifest cannot be parsed', input: { read: { kind: 'unusable', problem: 'invalid', reason: 'not JSON' } }, expect: /no usable manifest \(not JSON\)/ },
  { name: 'lists in full when reading the manifest is denied', input: { read: { kind: 'unusable', problem: 'denied', reason: 'AccessDenied' } }, expect: /no usable manifest/ },
  { name: 'lists in full when the manifest is not read (every run lists, or --domains)', input: { read: { kind: 'not read' } }, expect: /not read/ },
  { name: 'lists in full once the last full listing is as old as the period', input: { memory: { ...memory, listedAt: new Date(now.getTime() - 6 * hour).toISOString() } }, expect: /last full listing was made/ },
  { name: 'lists in full when the period passed, even with a changed manifest', input: { memory: { ...memory, listedAt: new Date(now.getTime() - 7 * hour).toISOString() }, read: { kind: 'found', etag: '"m2"', manifest } }, expect: /last full listing/ },
  { name: 'lists in full when the last listing is in the future (the clock was set back)', input: { memory: { ...memory, listedAt: new Date(now.getTime() + hour).toISOString() } }, expect: /last full listing/ },
  { name: 'lists in full with a period of 0', input: { fullListingEveryMs: 0 }, expect: /last full listing/ },
  { name: 'lists in full when a read of the last run failed (the kept view was out of date)', input: { memory: { ...memory, listAgain: true } }, expect: /a read of the last run failed/ },
  { name: 'lists in full on a 304 when no manifest ETag was kept', input: { memory: { ...memory, manifestEtag: null } }, expect: /no manifest was read before/ },
];

for (const { name, input, expect } of cases) {
  test(name, () => {
    const plan = planView({ ...base, ...input });

    if (expect instanceof RegExp) {
      assert.equal(plan.source, 'listing', JSON.stringify(plan));
      assert.match((plan as { reason: string }).reason, expect);
    } else {
      assert.deepEqual(plan, expect);
    }
  });
}

const remembered: { name: string; read: ManifestRead; listing: boolean; memory?: BucketMemory | null; expect: Partial<BucketMemory> }[] = [
  { name: 'a listing asked for by the last run is not asked for again', read: { kind: 'unchanged' }, listing: true, memory: { ...memory, listAgain: true }, expect: { listedAt: now.toISOString() } },
  { name: 'a 304 keeps the ETag and the time of the last listing', read: { kind: 'unchanged' }, listing: false, expect: { manifestEtag: '"m1"', listedAt: memory.listedAt } },
  { name: 'a changed manifest keeps its new ETag', read: { kind: 'found', etag: '"m2"', manifest }, listing: false, expect: { manifestEtag: '"m2"', listedAt: memory.listedAt } },
  { name: 'a full listing records its time, and the ETag of the manifest read before it', read: { kind: 'found', etag: '"m2"', manifest }, listing: true, expect: { manifestEtag: '"m2"', listedAt: now.toISOString() } },
  { name: 'no manifest: no ETag, and the problem, so it is told once', read: { kind: 'unusable', problem: 'missing', reason: 'there is none' }, listing: true, expect: { manifestEtag: null, manifestProblem: 'missing' } },
  { name: 'another bucket\'s memory is not carried over', read: { kind: 'unchanged' }, listing: true, memory: { ...memory, bucket: 'other' }, expect: { bucket, manifestEtag: null } },
];

for (const { name, read, listing, expect, ...rest } of remembered) {
  test(`remembers for the next run: ${name}`, () => {
    const plan = listing ? { source: 'listing' as const, reason: 'test' } : { source: 'memory' as const, view: kept };

    const next = rememberView({ memory: rest.memory === undefined ? memory : rest.memory, bucket, read, plan, view: fresh, now });

    assert.deepEqual(next.view, fresh);
    for (const [field, value] of Object.entries(expect)) assert.deepEqual(next[field as keyof BucketMemory], value, field);
    if (read.kind !== 'unusable') assert.equal(next.manifestProblem, undefined);
    assert.equal(next.listAgain, undefined, 'a listing asked for is made by this run');
  });
}

const notices: { name: string; memory: BucketMemory | null; read: ManifestRead; told: RegExp | null }[] = [
  { name: 'tells of a missing manifest the first time', memory, read: { kind: 'unusable', problem: 'missing', reason: 'there is none' }, told: /has no manifest/ },
  { name: 'tells of it only once', memory: { ...memory, manifestProblem: 'missing' }, read: { kind: 'unusable', problem: 'missing', reason: 'there is none' }, told: null },
  { name: 'tells again when the problem changes', memory: { ...memory, manifestProblem: 'missing' }, read: { kind: 'unusable', problem: 'invalid', reason: 'not JSON' }, told: /cannot be used \(not JSON\)/ },
  { name: 'tells of a denied read, naming the host policy', memory: null, read: { kind: 'unusable', problem: 'denied', reason: 'AccessDenied' }, told: /denied .*host policy/ },
  { name: 'tells nothing of a usable manifest', memory: { ...memory, manifestProblem: 'missing' }, read: { kind: 'found', etag: '"m2"', manifest }, told: null },
  { name: 'tells nothing of a 304', memory, read: { kind: 'unchanged' }, told: null },
];

for (const { name, memory: kept, read, told } of notices) {
  test(name, () => {
    const notice = manifestNotice(kept, read);

    if (told) assert.match(notice ?? '', told);
    else assert.equal(notice, null);
  });
}

const stored: { name: string; value: unknown; ok: boolean }[] = [
  { name: 'the memory as written', value: memory, ok: true },
  { name: 'with a problem told', value: { ...memory, manifestProblem: 'missing' }, ok: true },
  { name: 'with a listing asked for', value: { ...memory, listAgain: true }, ok: true },
  { name: 'nothing (a state file from before the manifest)', value: undefined, ok: false },
  { name: 'an unknown problem', value: { ...memory, manifestProblem: 'gone' }, ok: false },
  { name: 'no time of the last listing', value: { ...memory, listedAt: 'never' }, ok: false },
  { name: 'a view that is not one', value: { ...memory, view: { folders: [{ folder: 'a/b', etags: {}, status: true }], strayKeys: [] } }, ok: false },
  { name: 'an ETag that is not a string', value: { ...memory, manifestEtag: 7 }, ok: false },
];

for (const { name, value, ok } of stored) {
  test(`reads back from the state file ${name}: ${ok ? 'kept' : 'dropped (the next run lists in full)'}`, () => {
    const parsed = parseBucketMemory(value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

    if (ok) assert.deepEqual(parsed, value);
    else assert.equal(parsed, null);
  });
}
