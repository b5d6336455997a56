import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultDomainConfig, parseDomainConfig, sameNames, sortNames, type DomainConfig } from '../../functions/core/domain-config.js';
import { domainNameProblem } from '../../functions/core/domain-name.js';

const domain = 'a.test';
const manyNames = (count: number) => [domain, ...Array.from({ length: count - 1 }, (_, i) => `n${i}.a.test`)];

const defaults = { profile: null, reuseKey: false };

const parsed: { name: string; text: string | null; config: DomainConfig }[] = [
  { name: 'uses the domain and www with ECDSA P-256 when there is no config.json', text: null, config: { names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', ...defaults } },
  { name: 'uses the defaults for an empty object', text: '{}', config: { names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', ...defaults } },
  { name: 'uses the configured names, sorted', text: '{"names": ["shop.a.test", "a.test"]}', config: { names: ['a.test', 'shop.a.test'], keyType: 'ecdsa-p256', ...defaults } },
  { name: 'uses only the domain itself when configured so', text: '{"names": ["a.test"]}', config: { names: ['a.test'], keyType: 'ecdsa-p256', ...defaults } },
  { name: 'uses the configured key type', text: '{"keyType": "rsa-2048"}', config: { names: ['a.test', 'www.a.test'], keyType: 'rsa-2048', ...defaults } },
  { name: 'uses both configured fields', text: '{"names": ["a.test", "api.a.test"], "keyType": "rsa-4096"}', config: { names: ['a.test', 'api.a.test'], keyType: 'rsa-4096', ...defaults } },
  { name: 'removes duplicate names', text: '{"names": ["a.test", "www.a.test", "a.test", "www.a.test"]}', config: { names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', ...defaults } },
  { name: 'accepts 100 names', text: JSON.stringify({ names: manyNames(100) }), config: { names: sortNames(manyNames(100)), keyType: 'ecdsa-p256', ...defaults } },
  { name: 'accepts 101 entries that are 100 names once duplicates are removed', text: JSON.stringify({ names: [...manyNames(100), domain] }), config: { names: sortNames(manyNames(100)), keyType: 'ecdsa-p256', ...defaults } },
  { name: 'uses the configured profile', text: '{"profile": "tlsserver"}', config: { names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', profile: 'tlsserver', reuseKey: false } },
  { name: 'takes a null profile as the CA\'s default', text: '{"profile": null}', config: { names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', ...defaults } },
  { name: 'keeps the key when reuseKey is true', text: '{"reuseKey": true}', config: { names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', profile: null, reuseKey: true } },
];

for (const { name, text, config } of parsed) {
  test(name, () => {
    const result = parseDomainConfig(domain, text);

    assert.deepEqual(result, config);
  });
}

const refused: { name: string; text: string; message: RegExp }[] = [
  { name: 'refuses text that is not JSON', text: '{"names": [', message: /config.json is not valid JSON/ },
  { name: 'refuses an empty file', text: '', message: /config.json is not valid JSON/ },
  { name: 'refuses a JSON array', text: '["a.test"]', message: /config.json must be a JSON object/ },
  { name: 'refuses JSON null', text: 'null', message: /config.json must be a JSON object/ },
  { name: 'refuses a JSON string', text: '"a.test"', message: /config.json must be a JSON object/ },
  { name: 'refuses a JSON number', text: '42', message: /config.json must be a JSON object/ },
  { name: 'refuses a misspelt field rather than falling back to a default', text: '{"name": ["a.test"]}', message: /config.json has unknown field "name" \(known: names, keyType, profile, reuseKey\)/ },
  { name: 'refuses an unknown field with control characters, escaped', text: '{"x\\u0000y": 1}', message: /unknown field "x\\u0000y"/ },
  { name: 'refuses names that are not an array', text: '{"names": "a.test"}', message: /"names" must be a non-empty array of names/ },
  { name: 'refuses an empty list of names', text: '{"names": []}', message: /"names" must be a non-empty array of names/ },
  { name: 'refuses a name that is not a string', text: '{"names": ["a.test", 7]}', message: /"names"\[1\] is not a string/ },
  { name: 'refuses a wildcard name', text: '{"names": ["a.test", "*.a.test"]}', message: /"names"\[1\] "\*.a.test": wildcard/ },
  { name: 'refuses a path-traversal name', text: '{"names": ["a.test", "../etc"]}', message: /"names"\[1\] "..\/etc": contains a path separator/ },
  { name: 'refuses an uppercase name', text: '{"names": ["A.test"]}', message: /"names"\[0\] "A.test": contains uppercase/ },
  { name: 'refuses names without the domain itself', text: '{"names": ["www.a.test"]}', message: /"names" must include the domain itself \(a.test\)/ },
  { name: 'refuses more than 100 names', text: JSON.stringify({ names: manyNames(101) }), message: /"names" has 101 names; the limit is 100/ },
  { name: 'refuses an unknown key type', text: '{"keyType": "rsa-1024"}', message: /"keyType" must be one of ecdsa-p256, rsa-2048, rsa-4096/ },
  { name: 'refuses a key type in another case', text: '{"keyType": "ECDSA-P256"}', message: /"keyType" must be one of/ },
  { name: 'refuses a key type that is not a string', text: '{"keyType": 2048}', message: /"keyType" must be one of/ },
  { name: 'refuses a profile that is not a string', text: '{"profile": 6}', message: /"profile" must be a profile name such as "tlsserver".*not 6/ },
  { name: 'refuses an empty profile', text: '{"profile": ""}', message: /"profile" must be a profile name/ },
  { name: 'refuses a profile with a path in it', text: '{"profile": "../classic"}', message: /"profile" must be a profile name.*"\.\.\/classic"/ },
  { name: 'refuses a profile with control characters, escaped', text: '{"profile": "a\\u0000b"}', message: /"profile" must be a profile name.*"a\\u0000b"/ },
  { name: 'refuses reuseKey that is not a boolean', text: '{"reuseKey": "yes"}', message: /"reuseKey" must be true or false/ },
];

for (const { name, text, message } of refused) {
  test(name, () => {
    const parse = () => parseDomainConfig(domain, text);

    assert.throws(parse, message);
  });
}

test('returns a new default configuration each time (callers may change it)', () => {
  const first = defaultDomainConfig(domain);

  first.names.push('changed.a.test');

  assert.deepEqual(defaultDomainConfig(domain).names, ['a.test', 'www.a.test']);
});

// A valid folder name of 250+ characters must not get a default `www.` name that no CA accepts.
test('gives a 250-character domain only valid default names', () => {
  const longDomain = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}`;

  const config = defaultDomainConfig(longDomain);

  assert.equal(domainNameProblem(longDomain), null);
  assert.deepEqual(config.names.filter((name) => domainNameProblem(name) !== null), []);
});

const comparisons: { name: string; a: string[]; b: string[]; same: boolean }[] = [
  { name: 'treats the same names in another order as the same', a: ['a.test', 'www.a.test'], b: ['www.a.test', 'a.test'], same: true },
  { name: 'treats duplicates as one name', a: ['a.test', 'a.test'], b: ['a.test'], same: true },
  { name: 'treats an extra name as different', a: ['a.test'], b: ['a.test', 'www.a.test'], same: false },
  { name: 'treats another name as different', a: ['a.test', 'www.a.test'], b: ['a.test', 'api.a.test'], same: false },
];

for (const { name, a, b, same } of comparisons) {
  test(name, () => {
    const result = sameNames(a, b);

    assert.equal(result, same);
  });
}
