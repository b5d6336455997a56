import assert from 'node:assert/strict';
import { SourceMap } from 'node:module';
import { test } from 'node:test';
// @ts-expect-error: a build script in plain JavaScript, without declarations
import { encodeValue, mapOfSources, ownSourcesMap } from '../../scripts/source-map.mjs';

/** Base64 VLQ of each value, as a map's mappings hold them (node's own reader checks them below: the full map's test). */
const vlq = (...values: number[]): string => values.map((value) => encodeValue(value)).join('');

// Line 0: own code at column 0, a dependency's at 10, own again at 40 (a large column: multi-digit VLQ).
// Line 1: the dependency at 0, own code at 5000 with a name. Fields are relative, as in real maps.
const input = {
  version: 3,
  sources: ['../../functions/a.ts', '../../node_modules/dep/index.js', '../../functions/b.ts'],
  names: ['renewDomain'],
  mappings: [
    [vlq(0, 0, 0, 0), vlq(10, 1, 100, 4), vlq(30, 1, -90, -2)].join(','),
    [vlq(0, -1, 5, 0), vlq(5000, 1, 20, 7, 0)].join(','),
  ].join(';'),
};

const entry = (map: object, line: number, column: number) => {
  const found = new SourceMap(map as ConstructorParameters<typeof SourceMap>[0]).findEntry(line, column) as { originalSource?: string; originalLine?: number; originalColumn?: number };
  return found.originalSource ? `${found.originalSource}:${found.originalLine}:${found.originalColumn}` : 'unmapped';
};

const cases: [string, number, number, string][] = [
  ['own code at the start of a line', 0, 0, '../../functions/a.ts:0:0'],
  ['a dependency after own code', 0, 12, 'unmapped'],
  ['own code after a dependency', 0, 41, '../../functions/b.ts:10:2'],
  ['a dependency starting the next line', 1, 3, 'unmapped'],
  ['own code at a large column', 1, 5000, '../../functions/b.ts:35:9'],
];
for (const [name, line, column, expected] of cases) {
  test(`the cut map: ${name} maps as ${expected}`, () => {
    assert.equal(entry(mapOfSources(input, (source: string) => !source.includes('node_modules')), line, column), expected);
  });
}

test('own code maps to the same place in the full map and in the cut one', () => {
  for (const [, line, column, expected] of cases) if (expected !== 'unmapped') assert.equal(entry(input, line, column), expected);
});

test('the cut map keeps only the own sources, and no names', () => {
  const cut = JSON.parse(ownSourcesMap(JSON.stringify(input))) as { sources: string[]; names: string[]; version: number };
  assert.deepEqual(cut.sources, ['../../functions/a.ts', '../../functions/b.ts']);
  assert.deepEqual(cut.names, []);
  assert.equal(cut.version, 3);
});

test('a mapping that is not Base64 VLQ is refused, naming the character', () => {
  assert.throws(() => mapOfSources({ ...input, mappings: 'AA!A' }, () => true), /"!" is not Base64 VLQ/);
});
