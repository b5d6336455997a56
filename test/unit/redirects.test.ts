import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REDIRECTS, firstHop, judgeRedirect, reservedBlock, type HopTarget } from '../../functions/core/redirects.js';

const challenge = '/.well-known/acme-challenge/tok3n';
const start = firstHop('a.test', challenge);
const fromHttps: HopTarget = { url: 'https://b.test/x', scheme: 'https', host: 'b.test', ipFamily: null, port: 443, hostHeader: 'b.test', path: '/x' };
/** The URLs asked before the hop judged is redirect number `n`. */
const askedBefore = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? start.url : `http://a.test/hop/${i}`));

const followed: { name: string; from?: HopTarget; status?: number; location: string; asked?: string[]; target: Partial<HopTarget> }[] = [
  { name: 'follows a 301 from http to https on another name, port 443 implied', location: 'https://b.test/.well-known/acme-challenge/tok3n', target: { url: 'https://b.test/.well-known/acme-challenge/tok3n', scheme: 'https', host: 'b.test', port: 443, hostHeader: 'b.test', ipFamily: null } },
  { name: 'follows a 302', status: 302, location: 'http://b.test/y', target: { scheme: 'http', port: 80, path: '/y' } },
  { name: 'follows a 307', status: 307, location: 'http://b.test/y', target: { url: 'http://b.test/y' } },
  { name: 'follows a 308', status: 308, location: 'http://b.test/y', target: { url: 'http://b.test/y' } },
  { name: 'resolves a relative Location against the URL asked', location: '/elsewhere/tok3n', target: { url: 'http://a.test/elsewhere/tok3n', host: 'a.test', path: '/elsewhere/tok3n' } },
  { name: 'resolves a scheme-relative Location with the current scheme', from: fromHttps, location: '//c.test/z', target: { url: 'https://c.test/z', scheme: 'https', port: 443 } },
  { name: 'keeps the query, as Boulder does', location: 'http://b.test/y?q=1&r=2', target: { path: '/y?q=1&r=2' } },
  { name: 'drops the fragment, which is never sent', location: 'http://b.test/y#part', target: { url: 'http://b.test/y', path: '/y' } },
  { name: 'drops user info, which is never sent nor shown', location: 'http://user:secret@b.test/y', target: { url: 'http://b.test/y', hostHeader: 'b.test' } },
  { name: 'accepts an explicit port 80 on http (the default, left out of the Host header)', location: 'http://b.test:80/y', target: { port: 80, hostHeader: 'b.test' } },
  { name: 'accepts an explicit port 443 on https', location: 'https://b.test:443/y', target: { port: 443, url: 'https://b.test/y' } },
  { name: 'accepts plain http on port 443, as Boulder does', location: 'http://b.test:443/y', target: { scheme: 'http', port: 443, hostHeader: 'b.test:443' } },
  { name: 'accepts https on port 80, as Boulder does', location: 'https://b.test:80/y', target: { scheme: 'https', port: 80, hostHeader: 'b.test:80' } },
  { name: 'lowercases the host, as Boulder does', location: 'HTTP://B.TEST/Y', target: { host: 'b.test', url: 'http://b.test/Y' } },
  { name: 'turns an internationalised name into its punycode form', location: 'http://bücher.test/y', target: { host: 'xn--bcher-kva.test' } },
  { name: 'follows a redirect to a public IPv4 address (Boulder does since #8020, 2025)', location: 'http://8.8.8.8/y', target: { host: '8.8.8.8', ipFamily: 4, hostHeader: '8.8.8.8' } },
  { name: 'follows a redirect to a public IPv6 address, without brackets in the host', location: 'https://[2606:4700::1111]/y', target: { host: '2606:4700::1111', ipFamily: 6, hostHeader: '[2606:4700::1111]' } },
  { name: 'follows the 10th redirect', from: { ...start, url: 'http://a.test/hop/9' }, location: 'http://a.test/hop/10', asked: askedBefore(MAX_REDIRECTS), target: { url: 'http://a.test/hop/10' } },
];

for (const { name, from = start, status = 301, location, asked = [from.url], target } of followed) {
  test(name, () => {
    const verdict = judgeRedirect(from, { status, location }, asked);

    assert.equal(verdict.kind, 'follow', JSON.stringify(verdict));
    if (verdict.kind === 'follow') for (const [key, value] of Object.entries(target)) assert.deepEqual(verdict.target[key as keyof HopTarget], value, key);
  });
}

const answers: { name: string; status: number; location: string | undefined }[] = [
  { name: 'a 200 is the answer', status: 200, location: undefined },
  { name: 'a 404 with a Location is the answer, not a redirect', status: 404, location: 'http://b.test/' },
  { name: 'a 301 without a Location is the answer (the CA then fails on its status)', status: 301, location: undefined },
  { name: 'a 302 with an empty Location is the answer', status: 302, location: '' },
  { name: 'a 300 Multiple Choices is not followed', status: 300, location: 'http://b.test/' },
  { name: 'a 304 is not followed', status: 304, location: 'http://b.test/' },
  { name: 'a 305 Use Proxy is not followed', status: 305, location: 'http://proxy.test/' },
];

for (const { name, status, location } of answers) {
  test(name, () => {
    const verdict = judgeRedirect(start, { status, location }, [start.url]);

    assert.deepEqual(verdict, { kind: 'answer' });
  });
}

const from = `${start.url} redirected to`;
const refused: { name: string; status?: number; location: string; asked?: string[]; reason: string }[] = [
  { name: 'refuses a non-http scheme, naming the hop and both URLs', location: 'ftp://a.test/x', reason: `${from} ftp://a.test/x (redirect 1): Let's Encrypt follows only http and https, not ftp` },
  { name: 'refuses a javascript: URL', location: 'javascript:alert(1)', reason: `${from} javascript:alert(1) (redirect 1): Let's Encrypt follows only http and https, not javascript` },
  { name: 'refuses a file: URL', location: 'file:///etc/passwd', reason: `${from} file:///etc/passwd (redirect 1): Let's Encrypt follows only http and https, not file` },
  { name: 'refuses a port other than 80 and 443', location: 'http://a.test:8080/x', reason: `${from} http://a.test:8080/x (redirect 1): Let's Encrypt connects only to ports 80 and 443, not 8080` },
  { name: 'refuses port 21 on https', location: 'https://a.test:21/x', reason: `${from} https://a.test:21/x (redirect 1): Let's Encrypt connects only to ports 80 and 443, not 21` },
  { name: 'refuses a loopback IPv4 address, naming its reserved block', location: 'http://127.0.0.1/x', reason: `${from} http://127.0.0.1/x (redirect 1): Let's Encrypt does not connect to a reserved IP address (127.0.0.0/8, Loopback, RFC 1122)` },
  { name: 'refuses a private IPv4 address', location: 'http://10.1.2.3/x', reason: `${from} http://10.1.2.3/x (redirect 1): Let's Encrypt does not connect to a reserved IP address (10.0.0.0/8, Private-Use, RFC 1918)` },
  { name: 'refuses the cloud metadata address', location: 'http://169.254.169.254/latest/meta-data/', reason: `${from} http://169.254.169.254/latest/meta-data/ (redirect 1): Let's Encrypt does not connect to a reserved IP address (169.254.0.0/16, Link Local, RFC 3927)` },
  { name: 'refuses loopback written in hexadecimal', location: 'http://0x7f.1/x', reason: `${from} http://127.0.0.1/x (redirect 1): Let's Encrypt does not connect to a reserved IP address (127.0.0.0/8, Loopback, RFC 1122)` },
  { name: 'refuses loopback written as one decimal number', location: 'http://2130706433/x', reason: `${from} http://127.0.0.1/x (redirect 1): Let's Encrypt does not connect to a reserved IP address (127.0.0.0/8, Loopback, RFC 1122)` },
  { name: 'refuses the IPv6 loopback', location: 'http://[::1]/x', reason: `${from} http://[::1]/x (redirect 1): Let's Encrypt does not connect to a reserved IP address (::1/128, Loopback Address, RFC 4291)` },
  { name: 'refuses loopback as an IPv4-mapped IPv6 address', location: 'http://[::ffff:127.0.0.1]/x', reason: `${from} http://[::ffff:7f00:1]/x (redirect 1): Let's Encrypt does not connect to a reserved IP address (::ffff:0:0/96, IPv4-mapped Address, RFC 4291)` },
  { name: 'refuses a unique-local IPv6 address', location: 'http://[fd00::2]/x', reason: `${from} http://[fd00::2]/x (redirect 1): Let's Encrypt does not connect to a reserved IP address (fc00::/7, Unique-Local, RFC 4193)` },
  { name: 'refuses an IPv6 address with a scope zone as not a URL', location: 'http://[fe80::1%25eth0]/x', reason: `${from} "http://[fe80::1%25eth0]/x" (redirect 1): not a URL` },
  { name: 'refuses a port out of range as not a URL', location: 'http://a.test:99999/x', reason: `${from} "http://a.test:99999/x" (redirect 1): not a URL` },
  { name: 'refuses a single-label host', location: 'http://localhost/x', reason: `${from} http://localhost/x (redirect 1): the host "localhost" is not a domain name Let's Encrypt accepts (a single label is not a public domain name)` },
  { name: 'refuses a host with an empty label', location: 'http://a..test/x', reason: `${from} http://a..test/x (redirect 1): the host "a..test" is not a domain name Let's Encrypt accepts (contains an empty label (".."))` },
  { name: 'refuses a host with an underscore', location: 'http://a_b.test/x', reason: `${from} http://a_b.test/x (redirect 1): the host "a_b.test" is not a domain name Let's Encrypt accepts (label "a_b" is not letters, digits and inner hyphens)` },
  { name: 'refuses a wildcard host', location: 'http://*.a.test/x', reason: `${from} http://*.a.test/x (redirect 1): the host "*.a.test" is not a domain name Let's Encrypt accepts (wildcard names need DNS-01 validation, which this tool does not use)` },
  { name: 'names the missing slash of "Redirect / https://b.test" (host ends in .well-known)', location: 'https://b.test.well-known/acme-challenge/tok3n', reason: `${from} https://b.test.well-known/acme-challenge/tok3n (redirect 1): the host "b.test.well-known" ends in .well-known: the redirect is missing a "/" after the host name` },
  { name: 'refuses a 303, which Boulder does not follow', status: 303, location: 'http://b.test/y', reason: `${from} http://b.test/y (redirect 1): Let's Encrypt does not follow a 303 redirect (only 301, 302, 307 and 308)` },
  { name: 'refuses a path longer than 2000 characters', location: `http://b.test/${'p'.repeat(2000)}`, reason: `${from} http://b.test/${'p'.repeat(286)}… (redirect 1): Let's Encrypt refuses a redirect path longer than 2000 characters` },
  { name: 'refuses a redirect to the URL just asked (a loop)', location: challenge, reason: `${from} ${start.url} (redirect 1): a redirect loop (that URL was already asked)` },
  { name: 'refuses a redirect back to an earlier URL (a longer loop)', location: 'http://a.test/hop/1', asked: askedBefore(3), reason: `${from} http://a.test/hop/1 (redirect 3): a redirect loop (that URL was already asked)` },
  { name: 'refuses the 11th redirect', location: 'http://a.test/hop/11', asked: askedBefore(MAX_REDIRECTS + 1), reason: `${from} http://a.test/hop/11 (redirect 11): Let's Encrypt follows at most 10 redirects` },
  { name: 'shows a Location with control characters percent-encoded', location: 'ftp://b.test/\u001b[31mred', reason: `${from} ftp://b.test/%1B[31mred (redirect 1): Let's Encrypt follows only http and https, not ftp` },
  { name: 'shows an unparsable Location with control characters escaped', location: 'http://b.test:x/\u001b[31mred', reason: `${from} "http://b.test:x/\\u001b[31mred" (redirect 1): not a URL` },
];

for (const { name, status = 301, location, asked = [start.url], reason } of refused) {
  test(name, () => {
    const verdict = judgeRedirect(start, { status, location }, asked);

    assert.deepEqual(verdict, { kind: 'refuse', reason });
  });
}

const blocks: { address: string; family: 4 | 6; block: string | null }[] = [
  { address: '8.8.8.8', family: 4, block: null },
  { address: '2606:4700::1111', family: 6, block: null },
  { address: '192.0.0.9', family: 4, block: '192.0.0.9/32, Port Control Protocol Anycast, RFC 7723' },
  { address: '192.0.0.200', family: 4, block: '192.0.0.0/24, IETF Protocol Assignments, RFC 6890' },
  { address: '255.255.255.255', family: 4, block: '255.255.255.255/32, Limited Broadcast, RFC 8190' },
  { address: '2001:db8::1', family: 6, block: '2001:db8::/32, Documentation, RFC 3849' },
  { address: '2001:1::1', family: 6, block: '2001:1::1/128, Port Control Protocol Anycast, RFC 7723' },
];

for (const { address, family, block } of blocks) {
  test(`reservedBlock names the narrowest reserved block of ${address}, or none`, () => {
    assert.equal(reservedBlock(address, family), block);
  });
}

test('firstHop asks http://<name><path> on port 80 with the name as Host', () => {
  assert.deepEqual(firstHop('a.test', challenge), { url: `http://a.test${challenge}`, scheme: 'http', host: 'a.test', ipFamily: null, port: 80, hostHeader: 'a.test', path: challenge });
});
