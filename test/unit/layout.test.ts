import { test } from 'node:test';
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import {
  CHALLENGE_PREFIX,
  DomainFile,
  HostFile,
  challengeObjectKey,
  challengeUrl,
  domainFolderKey,
  domainObjectKey,
  hostDomainDir,
  hostFilePath,
  isChallengeToken,
  parseObjectKey,
} from '../../functions/core/layout.js';

const certsDir = '/etc/nginx/certs';
/** A token as Let's Encrypt sends them: 43 base64url characters. */
const token = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';

const keys: { name: string; key: () => string; expected: string }[] = [
  { name: 'keeps the domain key in the domain folder', key: () => domainObjectKey('a.test', DomainFile.key), expected: 'a.test/domain.key' },
  { name: 'keeps the full chain in the domain folder', key: () => domainObjectKey('a.test', DomainFile.fullChain), expected: 'a.test/domain.crt' },
  { name: 'keeps the status in the domain folder', key: () => domainObjectKey('www.a.test', DomainFile.status), expected: 'www.a.test/status.json' },
  { name: 'keeps the lock in the domain folder', key: () => domainObjectKey('a.test', DomainFile.lock), expected: 'a.test/renew.lock' },
  { name: 'marks a domain folder with a trailing slash', key: () => domainFolderKey('a.test'), expected: 'a.test/' },
  { name: 'publishes a challenge under the well-known prefix', key: () => challengeObjectKey(token), expected: `.well-known/acme-challenge/${token}` },
  { name: 'installs a domain in its own directory under certsDir', key: () => hostDomainDir(certsDir, 'a.test'), expected: '/etc/nginx/certs/a.test' },
  { name: 'ignores a trailing slash on certsDir', key: () => hostDomainDir(`${certsDir}//`, 'a.test'), expected: '/etc/nginx/certs/a.test' },
  { name: 'installs the full chain as domain.crt', key: () => hostFilePath(certsDir, 'a.test', HostFile.fullChain), expected: '/etc/nginx/certs/a.test/domain.crt' },
  { name: 'installs the key as domain.key', key: () => hostFilePath(certsDir, 'a.test', HostFile.key), expected: '/etc/nginx/certs/a.test/domain.key' },
  { name: 'builds the challenge URL on port 80 without a port', key: () => challengeUrl('a.test', token), expected: `http://a.test/.well-known/acme-challenge/${token}` },
  { name: 'builds the challenge URL on another port with the port', key: () => challengeUrl('a.test', token, 5002), expected: `http://a.test:5002/.well-known/acme-challenge/${token}` },
];

for (const { name, key, expected } of keys) {
  test(name, () => {
    const built = key();

    assert.equal(built, expected);
  });
}

const hostileDomains = ['..', '.', '../etc', '../../root/.ssh', '/etc/passwd', 'a.test/../../etc', 'a/b.test', 'a\\b.test', '..\\..\\windows', '', 'A.test', '*.a.test', 'a.test\u0000', 'a.test\n', '%2e%2e'];

for (const domain of hostileDomains) {
  test(`refuses to build a key or a path for the hostile folder ${JSON.stringify(domain)}`, () => {
    const builders = [
      () => domainObjectKey(domain, DomainFile.key),
      () => domainFolderKey(domain),
      () => hostDomainDir(certsDir, domain),
      () => hostFilePath(certsDir, domain, HostFile.key),
    ];

    for (const build of builders) assert.throws(build, /invalid domain folder/);
  });
}

test('never builds a host path outside certsDir, for valid names or hostile ones', () => {
  const candidates = [...hostileDomains, 'a.test', 'www.a.test', 'xn--bcher-kva.example'];

  const paths = candidates.flatMap((domain) => {
    try {
      return [hostFilePath(certsDir, domain, HostFile.key)];
    } catch {
      return [];
    }
  });

  assert.equal(paths.length, 3);
  for (const path of paths) assert.ok(posix.resolve(path).startsWith(`${certsDir}/`), `${path} is outside ${certsDir}`);
});

const objectKeys: { name: string; key: string; parsed: { folder: string; file: string } | null }[] = [
  { name: 'splits a file key into folder and file', key: 'a.test/domain.crt', parsed: { folder: 'a.test', file: 'domain.crt' } },
  { name: 'splits a folder marker into folder and empty file', key: 'a.test/', parsed: { folder: 'a.test', file: '' } },
  { name: 'keeps deeper paths in the file part', key: 'a.test/old/domain.crt', parsed: { folder: 'a.test', file: 'old/domain.crt' } },
  { name: 'returns an invalid folder unvalidated, for the caller to report', key: '../etc/passwd', parsed: { folder: '..', file: 'etc/passwd' } },
  { name: 'ignores a top-level object', key: 'README.txt', parsed: null },
  { name: 'ignores a key starting with a slash', key: '/a.test/domain.crt', parsed: null },
];

for (const { name, key, parsed } of objectKeys) {
  test(name, () => {
    const result = parseObjectKey(key);

    assert.deepEqual(result, parsed);
  });
}

// Modelled on acme-tiny's test_malicious_challenge_token: a CA-supplied token must never become a path.
const tokens: { name: string; token: string; valid: boolean }[] = [
  { name: 'accepts a 43-character base64url token', token, valid: true },
  { name: 'accepts a token of 256 characters', token: 'a'.repeat(256), valid: true },
  { name: 'accepts hyphens and underscores', token: 'a-b_c', valid: true },
  { name: 'refuses a token with a parent directory', token: '../x', valid: false },
  { name: 'refuses the token ".."', token: '..', valid: false },
  { name: 'refuses a token with a slash', token: 'a/b', valid: false },
  { name: 'refuses a token with a backslash', token: 'a\\b', valid: false },
  { name: 'refuses a token with a space', token: 'a b', valid: false },
  { name: 'refuses a percent-encoded traversal', token: '%2e%2e', valid: false },
  { name: 'refuses an S3 sub-resource query', token: '?acl', valid: false },
  { name: 'refuses a token with a dot', token: 'a.b', valid: false },
  { name: 'refuses base64 padding', token: 'abc=', valid: false },
  { name: 'refuses a trailing newline', token: 'abc\n', valid: false },
  { name: 'refuses a NUL character', token: 'abc\u0000', valid: false },
  { name: 'refuses an empty token', token: '', valid: false },
  { name: 'refuses a token of 257 characters', token: 'a'.repeat(257), valid: false },
];

for (const { name, token: candidate, valid } of tokens) {
  test(`${name} as a challenge token`, () => {
    const accepted = isChallengeToken(candidate);

    assert.equal(accepted, valid);
    if (valid) assert.equal(challengeObjectKey(candidate), `${CHALLENGE_PREFIX}${candidate}`);
    else assert.throws(() => challengeObjectKey(candidate), /challenge token is not base64url/);
  });
}

test('refuses to build a challenge URL for a malicious token', () => {
  const build = () => challengeUrl('a.test', '../../a.test/domain.key');

  assert.throws(build, /challenge token is not base64url/);
});
