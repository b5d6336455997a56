/**
 * Filling in the host templates: named values, defaults, and refusals that name the value. The
 * committed templates themselves are rendered; test/integration/host-nginx.test.ts runs nginx -t on them.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderTemplate, TemplateError, templateNames } from '../../functions/core/host-templates.js';

const dir = join(import.meta.dirname, '..', '..', 'infra', 'host', 'nginx');
const read = (name: string) => readFileSync(join(dir, name), 'utf8');
const host = { nameservers: ['10.0.0.2', 'fd00::53'] };
const origin = 'https://s3.eu-west-1.amazonaws.com/example-challenges';

test('every committed template is one this code fills in, and renders with its defaults', () => {
  const committed = ['acme-challenge.conf.template', 'acme-challenge-server.conf.template', 'site.conf.template'];
  const required: Record<string, Record<string, string>> = { 'acme-challenge.conf.template': { CHALLENGE_ORIGIN: origin }, 'site.conf.template': { DOMAIN: 'example.com' } };

  for (const name of committed) {
    const rendered = renderTemplate(name, read(name), required[name] ?? {}, host);

    assert.doesNotMatch(rendered, /\{\{|\}\}/, `${name} has no placeholder left`);
  }
  assert.deepEqual(templateNames(), [...committed].sort());
});

test('the challenge locations keep nginx\'s own variables and take the origin\'s host and TLS name from it', () => {
  const rendered = renderTemplate('acme-challenge.conf.template', read('acme-challenge.conf.template'), { CHALLENGE_ORIGIN: `${origin}/` }, host);

  assert.match(rendered, /proxy_pass https:\/\/s3\.eu-west-1\.amazonaws\.com\/example-challenges\/\.well-known\/acme-challenge\/\$acme_token;/);
  assert.match(rendered, /proxy_set_header Host s3\.eu-west-1\.amazonaws\.com;/);
  assert.match(rendered, /proxy_ssl_name s3\.eu-west-1\.amazonaws\.com;/);
  assert.match(rendered, /proxy_ssl_verify on;/);
  assert.match(rendered, /proxy_ssl_trusted_certificate \/etc\/ssl\/certs\/ca-certificates\.crt;/);
  assert.match(rendered, /resolver 10\.0\.0\.2 \[fd00::53\] valid=60s/, 'nameservers from resolv.conf, IPv6 in brackets');
  assert.match(rendered, /\$request_method/);
  assert.match(rendered, /\$is_args/);
});

test('resolver addresses may carry a port; IPv6 ones are bracketed', () => {
  const rendered = renderTemplate('acme-challenge.conf.template', read('acme-challenge.conf.template'), { CHALLENGE_ORIGIN: origin, RESOLVER: '127.0.0.1:8053 ::1 [fd00::53]:5353' }, host);

  assert.match(rendered, /resolver 127\.0\.0\.1:8053 \[::1\] \[fd00::53\]:5353 valid=60s/);
});

test('a port in the origin goes into the Host header but not the TLS name', () => {
  const rendered = renderTemplate('acme-challenge.conf.template', read('acme-challenge.conf.template'), { CHALLENGE_ORIGIN: 'https://10.0.0.9:9443/b' }, host);

  assert.match(rendered, /proxy_set_header Host 10\.0\.0\.9:9443;/);
  assert.match(rendered, /proxy_ssl_name 10\.0\.0\.9;/);
});

test('a list of listen addresses repeats the listen line, IPv4 and IPv6 by default', () => {
  const byDefault = renderTemplate('acme-challenge-server.conf.template', read('acme-challenge-server.conf.template'), {}, host);
  const given = renderTemplate('site.conf.template', read('site.conf.template'), { DOMAIN: 'example.com', HTTPS_LISTEN: '127.0.0.1:8443,[::1]:8443' }, host);

  assert.match(byDefault, /^ {4}listen 80;\n {4}listen \[::\]:80;$/m);
  assert.match(byDefault, /server_name ~\^\.\+\$;/);
  assert.match(byDefault, /return 301 https:\/\/\$host\$request_uri;/);
  assert.doesNotMatch(byDefault, /listen[^;]*default_server/);
  assert.match(given, /^ {4}listen 127\.0\.0\.1:8443 ssl;\n {4}listen \[::1\]:8443 ssl;$/m);
  assert.match(given, /ssl_certificate \/etc\/nginx\/certs\/example\.com\/domain\.crt;/);
  assert.match(given, /server_name example\.com www\.example\.com;/);
});

const refusals: { name: string; template: string; values: Record<string, string>; hostFacts?: { nameservers: string[] }; message: RegExp }[] = [
  { name: 'an unknown value', template: 'site.conf.template', values: { DOMAIN: 'example.com', DOMAINS: 'x' }, message: /unknown value\(s\) DOMAINS \(it takes DOMAIN, HTTPS_LISTEN, CERTS_DIR, DOCUMENT_ROOT\)/ },
  { name: 'a missing required value', template: 'site.conf.template', values: {}, message: /DOMAIN is required/ },
  { name: 'an empty required value', template: 'acme-challenge.conf.template', values: { CHALLENGE_ORIGIN: ' ' }, message: /CHALLENGE_ORIGIN is required/ },
  { name: 'a domain that would break out of the directive', template: 'site.conf.template', values: { DOMAIN: 'example.com; include /etc/passwd' }, message: /DOMAIN "example\.com; include \/etc\/passwd"/ },
  { name: 'a path with ..', template: 'site.conf.template', values: { DOMAIN: 'example.com', CERTS_DIR: '/etc/nginx/../shadow' }, message: /CERTS_DIR "\/etc\/nginx\/\.\.\/shadow" is not an absolute path/ },
  { name: 'a relative path', template: 'site.conf.template', values: { DOMAIN: 'example.com', DOCUMENT_ROOT: 'www' }, message: /DOCUMENT_ROOT "www"/ },
  { name: 'a listen address with a directive in it', template: 'site.conf.template', values: { DOMAIN: 'example.com', HTTPS_LISTEN: '443 ssl; return 200' }, message: /HTTPS_LISTEN "ssl;" is not a listen address/ },
  { name: 'a port out of range', template: 'acme-challenge-server.conf.template', values: { HTTP_LISTEN: '70000' }, message: /HTTP_LISTEN "70000"/ },
  { name: 'an origin with a query', template: 'acme-challenge.conf.template', values: { CHALLENGE_ORIGIN: `${origin}?acl` }, message: /no credentials, query or fragment/ },
  { name: 'an origin with credentials', template: 'acme-challenge.conf.template', values: { CHALLENGE_ORIGIN: 'https://key:secret@s3.amazonaws.com/b' }, message: /no credentials/ },
  { name: 'an origin that is not http(s)', template: 'acme-challenge.conf.template', values: { CHALLENGE_ORIGIN: 'file:///etc/passwd' }, message: /must start with https:\/\// },
  { name: 'an origin the URL parser would rewrite (a tab, a backslash)', template: 'acme-challenge.conf.template', values: { CHALLENGE_ORIGIN: 'https://s3.amazonaws.com/b\tx' }, message: /is not written plainly/ },
  { name: 'an origin with an upper-case host (written otherwise than it is read)', template: 'acme-challenge.conf.template', values: { CHALLENGE_ORIGIN: 'https://S3.amazonaws.com\\b' }, message: /is not written plainly|path that is not plain/ },
  { name: 'an origin with a quote in its path', template: 'acme-challenge.conf.template', values: { CHALLENGE_ORIGIN: `${origin}/a"b` }, message: /has a path that is not plain/ },
  { name: 'a resolver that is a name', template: 'acme-challenge.conf.template', values: { CHALLENGE_ORIGIN: origin, RESOLVER: 'dns.example' }, message: /RESOLVER "dns\.example" is not an IP address/ },
  { name: 'no resolver when resolv.conf has none', template: 'acme-challenge.conf.template', values: { CHALLENGE_ORIGIN: origin }, hostFacts: { nameservers: [] }, message: /RESOLVER is required/ },
  { name: 'a template this code does not know', template: 'other.conf.template', values: {}, message: /not a template this agent fills in/ },
];
for (const item of refusals) {
  test(`refuses ${item.name}, naming it`, () => {
    const text = templateNames().includes(item.template) ? read(item.template) : 'server {}';

    assert.throws(() => renderTemplate(item.template, text, item.values, item.hostFacts ?? host), (error: unknown) => error instanceof TemplateError && item.message.test(error.message));
  });
}

test('refuses a template that uses a placeholder this code does not fill in', () => {
  assert.throws(() => renderTemplate('site.conf.template', 'server_name {{DOMAIN}} {{ALIASES}};', { DOMAIN: 'example.com' }, host), /uses \{\{ALIASES\}\}, which this agent does not fill in/);
});
