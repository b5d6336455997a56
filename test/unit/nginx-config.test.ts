/**
 * Reading `nginx -T` dumps: which certificate files the server blocks use.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certificatePaths, isConfigurationDump, referencedDomains } from '../../functions/core/nginx-config.js';

const dump = (...files: [string, string][]) => files.map(([path, text]) => `# configuration file ${path}:\n${text}\n`).join('\n');

const pathCases: { name: string; text: string; paths: string[] }[] = [
  { name: 'an absolute path', text: 'server { ssl_certificate /etc/nginx/certs/a.test/domain.crt; }', paths: ['/etc/nginx/certs/a.test/domain.crt'] },
  { name: 'a relative path, against the configuration directory', text: 'ssl_certificate certs/a.test/domain.crt;', paths: ['/etc/nginx/certs/a.test/domain.crt'] },
  { name: 'a double-quoted path with a space', text: 'ssl_certificate "/srv/my certs/a.test/domain.crt";', paths: ['/srv/my certs/a.test/domain.crt'] },
  { name: 'a single-quoted path', text: "ssl_certificate '/etc/nginx/certs/a.test/domain.crt';", paths: ['/etc/nginx/certs/a.test/domain.crt'] },
  { name: 'not ssl_certificate_key', text: 'ssl_certificate_key /etc/nginx/certs/a.test/domain.key;', paths: [] },
  { name: 'not a commented-out directive', text: '# ssl_certificate /etc/nginx/certs/old.test/domain.crt;\n    #ssl_certificate /x;', paths: [] },
  { name: 'not a directive after a comment on the same line', text: 'listen 443 ssl; # ssl_certificate /x.crt;', paths: [] },
  { name: 'a directive split over two lines', text: 'ssl_certificate\n    /etc/nginx/certs/a.test/domain.crt;', paths: ['/etc/nginx/certs/a.test/domain.crt'] },
  { name: 'several server blocks on one line', text: 'server{ssl_certificate /a/domain.crt;}server{ssl_certificate /b/domain.crt;}', paths: ['/a/domain.crt', '/b/domain.crt'] },
  { name: 'a path with a variable, as written', text: 'ssl_certificate /etc/nginx/certs/$ssl_server_name/domain.crt;', paths: ['/etc/nginx/certs/$ssl_server_name/domain.crt'] },
  { name: 'a semicolon inside quotes', text: 'return 200 "a;b"; ssl_certificate /c.crt;', paths: ['/c.crt'] },
];
for (const item of pathCases) {
  test(`certificate paths: ${item.name}`, () => {
    assert.deepEqual(certificatePaths(dump(['/etc/nginx/nginx.conf', item.text]), '/etc/nginx'), item.paths);
  });
}

test('certificate paths come from every file of the dump', () => {
  const text = dump(['/etc/nginx/nginx.conf', 'http { include /etc/nginx/sites-enabled/*; }'], ['/etc/nginx/sites-enabled/a', 'ssl_certificate /c/a.test/domain.crt;'], ['/etc/nginx/sites-enabled/b', 'ssl_certificate /c/b.test/domain.crt;']);

  assert.deepEqual(certificatePaths(text, '/etc/nginx'), ['/c/a.test/domain.crt', '/c/b.test/domain.crt']);
});

test('a dump is told from the output of nginx -t', () => {
  assert.equal(isConfigurationDump(dump(['/etc/nginx/nginx.conf', 'events {}'])), true);
  assert.equal(isConfigurationDump('nginx: the configuration file /etc/nginx/nginx.conf syntax is ok'), false);
  assert.equal(isConfigurationDump(''), false);
});

const path = (domain: string) => [`/etc/nginx/certs/${domain}/domain.crt`, `/etc/nginx/certs/.versions/${domain}/v1/domain.crt`];
const referenceCases: { name: string; paths: string[]; expect: string[] | 'all' }[] = [
  { name: 'the domains whose certificate path appears', paths: ['/etc/nginx/certs/a.test/domain.crt', '/elsewhere/b.test/domain.crt'], expect: ['a.test'] },
  { name: 'a domain reached through a symlink, by the resolved path', paths: ['/etc/ssl/b-site/domain.crt', '/etc/nginx/certs/.versions/b.test/v1/domain.crt'], expect: ['b.test'] },
  { name: 'a path written with ./ and // still counts', paths: ['/etc/nginx//certs/./c.test/domain.crt'], expect: ['c.test'] },
  { name: 'none when no path appears', paths: [], expect: [] },
  { name: 'all when a path holds a variable', paths: ['/etc/nginx/certs/$ssl_server_name/domain.crt'], expect: 'all' },
];
for (const item of referenceCases) {
  test(`references: ${item.name}`, () => {
    const references = referencedDomains(item.paths, ['a.test', 'b.test', 'c.test'], path);

    if (item.expect === 'all') assert.equal(references.kind, 'all');
    else assert.deepEqual(references.kind === 'some' ? [...references.domains].sort() : references.kind, item.expect);
  });
}
