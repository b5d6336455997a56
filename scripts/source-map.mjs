// Source maps of the bundles, cut to this repository's own sources (issue 12: the cold start).
//
// node --enable-source-maps reads and parses a bundle's whole map as it loads the bundle: for the
// renew bundle's 1 MB map (mappings of every AWS SDK module it holds) that was about 30 ms of every
// cold start. The frames worth reading in a stack trace are this repository's: a frame inside a
// dependency now shows its place in the bundle (dist/…/handler.js:line:column) and still names its
// function (the bundles keep names). The map keeps its format (Source Map v3), so any tool reads it.

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGIT = new Map([...BASE64].map((character, index) => [character, index]));

/** Returns the numbers of one Base64 VLQ segment (generated column, source, line, column[, name]), each relative. */
function decodeSegment(text) {
  const values = [];
  let value = 0;
  let shift = 0;
  for (const character of text) {
    const digit = DIGIT.get(character);
    if (digit === undefined) throw new Error(`source map: "${character}" is not Base64 VLQ`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value % 2 === 1 ? -Math.floor(value / 2) : value / 2);
    value = 0;
    shift = 0;
  }
  return values;
}

/** Returns `value` as Base64 VLQ. */
export function encodeValue(value) {
  let rest = value < 0 ? -value * 2 + 1 : value * 2;
  let text = '';
  do {
    let digit = rest % 32;
    rest = Math.floor(rest / 32);
    if (rest > 0) digit |= 32;
    text += BASE64[digit];
  } while (rest > 0);
  return text;
}

/**
 * Returns `map` (a parsed Source Map v3) with the mappings of the sources `keep` accepts only, and
 * without names. Where a kept source's code ends and another's begins, a mapping with a generated
 * column alone ends the kept one, so a frame in dropped code is never told it is in kept code.
 */
export function mapOfSources(map, keep) {
  const kept = map.sources.map((source) => keep(source));
  const newIndex = [];
  const sources = [];
  map.sources.forEach((source, index) => {
    if (!kept[index]) return;
    newIndex[index] = sources.length;
    sources.push(source);
  });
  // Absolute positions in the input, and the last written ones (VLQ fields are relative to them).
  let source = 0;
  let line = 0;
  let column = 0;
  let written = { source: 0, line: 0, column: 0 };
  let open = false;
  const lines = map.mappings.split(';').map((text) => {
    let generated = 0;
    let writtenGenerated = 0;
    const segments = [];
    for (const segment of text.split(',')) {
      if (segment === '') continue;
      const values = decodeSegment(segment);
      generated += values[0];
      if (values.length >= 4) {
        source += values[1];
        line += values[2];
        column += values[3];
      }
      if (values.length >= 4 && kept[source]) {
        const target = newIndex[source];
        segments.push(encodeValue(generated - writtenGenerated) + encodeValue(target - written.source) + encodeValue(line - written.line) + encodeValue(column - written.column));
        written = { source: target, line, column };
        writtenGenerated = generated;
        open = true;
      } else if (open) {
        segments.push(encodeValue(generated - writtenGenerated));
        writtenGenerated = generated;
        open = false;
      }
    }
    return segments.join(',');
  });
  return { version: 3, sources, names: [], mappings: lines.join(';') };
}

/** Returns the text of `text`'s map with only this repository's sources (none under node_modules/). */
export function ownSourcesMap(text) {
  return `${JSON.stringify(mapOfSources(JSON.parse(text), (source) => !/(^|\/)node_modules\//.test(source)))}\n`;
}
