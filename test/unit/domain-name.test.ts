import { test } from 'node:test';
import assert from 'node:assert/strict';
import { domainNameProblem, isDomainName, printable } from '../../functions/core/domain-name.js';

const label63 = 'a'.repeat(63);
/** 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters. */
const name253 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;

const valid: { name: string; domain: string }[] = [
  { name: 'accepts a two-label name', domain: 'a.test' },
  { name: 'accepts a sub-domain', domain: 'www.a.test' },
  { name: 'accepts a punycode (IDN) label', domain: 'xn--bcher-kva.example' },
  { name: 'accepts digits and inner hyphens', domain: 'web-01.a-b.test' },
  { name: 'accepts a label of 63 characters', domain: `${label63}.test` },
  { name: 'accepts a name of 253 characters', domain: name253 },
  { name: 'accepts a numeric label that is not the last', domain: '127.0.0.1.test' },
];

for (const { name, domain } of valid) {
  test(name, () => {
    const problem = domainNameProblem(domain);

    assert.equal(problem, null);
    assert.equal(isDomainName(domain), true);
  });
}

const refused: { name: string; domain: string; problem: RegExp }[] = [
  { name: 'refuses the parent-directory folder ".."', domain: '..', problem: /empty label/ },
  { name: 'refuses a path traversal "../etc"', domain: '../etc', problem: /path separator/ },
  { name: 'refuses an absolute path "/etc/passwd"', domain: '/etc/passwd', problem: /path separator/ },
  { name: 'refuses a forward slash inside a name', domain: 'a/b.test', problem: /path separator/ },
  { name: 'refuses a backslash inside a name', domain: 'a\\b.test', problem: /path separator/ },
  { name: 'refuses a backslash traversal', domain: '..\\..\\etc', problem: /path separator/ },
  { name: 'refuses uppercase letters', domain: 'Example.com', problem: /uppercase/ },
  { name: 'refuses a wildcard name', domain: '*.example.com', problem: /wildcard/ },
  { name: 'refuses a label of 64 characters', domain: `${label63}a.test`, problem: /longer than 63 characters/ },
  { name: 'refuses a name of 254 characters', domain: `${name253}d`, problem: /longer than 253 characters/ },
  { name: 'refuses a label starting with a hyphen', domain: '-a.test', problem: /label "-a" is not letters, digits and inner hyphens/ },
  { name: 'refuses a label ending with a hyphen', domain: 'a-.test', problem: /label "a-" is not letters, digits and inner hyphens/ },
  { name: 'refuses an empty label inside a name', domain: 'a..test', problem: /empty label/ },
  { name: 'refuses a leading dot', domain: '.a.test', problem: /starts or ends with a dot/ },
  { name: 'refuses a trailing dot', domain: 'a.test.', problem: /starts or ends with a dot/ },
  { name: 'refuses a single label', domain: 'localhost', problem: /single label/ },
  { name: 'refuses an IPv4 address', domain: '127.0.0.1', problem: /IP address/ },
  { name: 'refuses an IPv6 address', domain: '::1', problem: /single label/ },
  { name: 'refuses an IPv6 address with dots', domain: '::ffff:1.2.3.4', problem: /label "::ffff:1" is not letters/ },
  { name: 'refuses a NUL character', domain: 'a\u0000.test', problem: /label "a\\u0000" is not letters/ },
  { name: 'refuses a newline', domain: 'a\n.test', problem: /label "a\\n" is not letters/ },
  { name: 'refuses a space', domain: 'a b.test', problem: /label "a b" is not letters/ },
  { name: 'refuses a unicode letter (not punycode)', domain: 'bücher.example', problem: /label "bücher" is not letters/ },
  { name: 'refuses a percent-encoded traversal', domain: '%2e%2e.test', problem: /not letters, digits and inner hyphens/ },
  { name: 'refuses an underscore', domain: '_acme.a.test', problem: /not letters, digits and inner hyphens/ },
  { name: 'refuses a port suffix', domain: 'a.test:443', problem: /not letters, digits and inner hyphens/ },
  { name: 'refuses the empty string', domain: '', problem: /empty name/ },
];

for (const { name, domain, problem } of refused) {
  test(name, () => {
    const found = domainNameProblem(domain);

    assert.match(found ?? '', problem);
    assert.equal(isDomainName(domain), false);
  });
}

const quoted: { name: string; text: string; shown: string }[] = [
  { name: 'quotes control characters escaped', text: 'a\u0000b\nc', shown: 'a\\u0000b\\nc' },
  { name: 'quotes double quotes escaped', text: 'say "hi"', shown: 'say \\"hi\\"' },
  { name: 'caps quoted text at 80 characters', text: 'x'.repeat(200), shown: `${'x'.repeat(80)}…` },
];

for (const { name, text, shown } of quoted) {
  test(name, () => {
    const result = printable(text);

    assert.equal(result, shown);
  });
}
