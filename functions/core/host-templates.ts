/**
 * Filling in the host templates (infra/host/nginx/*.template): `{{NAME}}` placeholders take named
 * values, checked one by one, so a value can never break out of its nginx directive; nginx's own
 * `$variables` pass through untouched. Unknown names, missing values and a template that uses a
 * name this code does not know are all errors that name the thing at fault.
 *
 * A list value (listen addresses) repeats the line it stands on once per item.
 */

import { isIPv4, isIPv6 } from 'node:net';
import { domainNameProblem, printable } from './domain-name.js';

/** A value that cannot be used, or a template that cannot be filled; the message names it. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

interface ValueSpec {
  name: string;
  description: string;
  /**
   * A list value: whitespace- or comma-separated items. `lines`: the line holding it is repeated
   * once per item (listen addresses); `words`: the items are joined with spaces (resolver addresses).
   */
  list?: 'lines' | 'words';
  /** Returns the value as the template uses it (after it was checked). */
  normalize?: (item: string) => string;
  /** The value when none is given (from what the host provides); undefined: the value is required. */
  fallback?: (host: HostFacts) => string | undefined;
  /** Returns why one item is not acceptable, or null. */
  problem: (item: string) => string | null;
}

/** What the host offers for defaults: the nameservers of /etc/resolv.conf. */
export interface HostFacts {
  nameservers: readonly string[];
}

const LISTEN = /^(?:\d{1,5}|(?:\d{1,3}\.){3}\d{1,3}:\d{1,5}|\[[0-9A-Fa-f:.]+\]:\d{1,5}|\*:\d{1,5})$/;
const SAFE_PATH = /^\/[A-Za-z0-9._@+/-]*$/;

const listen = (item: string) => (LISTEN.test(item) && port(item) ? null : 'is not a listen address (PORT, IPv4:PORT or [IPv6]:PORT)');
const path = (item: string) => (SAFE_PATH.test(item) && !item.split('/').includes('..') ? null : 'is not an absolute path of letters, digits and ._@+-/');
const domain = (item: string) => domainNameProblem(item);
/** A resolver address: IPv4 or IPv6, with an optional port (IPv4:PORT, [IPv6]:PORT). */
function nameserver(item: string): string | null {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(item);
  const withPort = /^([\d.]+):(\d{1,5})$/.exec(item);
  const ok = isIPv4(item) || isIPv6(item) || (bracketed !== null && isIPv6(bracketed[1] as string)) || (withPort !== null && isIPv4(withPort[1] as string));
  return ok ? null : 'is not an IP address (with an optional :PORT)';
}

function port(listenAddress: string): boolean {
  const value = Number(/(\d+)$/.exec(listenAddress)?.[1]);
  return value >= 1 && value <= 65535;
}

/** Returns why `text` is not an http(s) origin plus optional path (no credentials, query or fragment), or null. */
function origin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must start with https:// (or http:// for a local stand-in)';
  if (url.username || url.password || url.search || url.hash || text.includes('?') || text.includes('#')) return 'must have no credentials, query or fragment';
  if (!/^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$/.test(url.hostname)) return 'has a host that is not a DNS name or an IP address';
  if (!/^[A-Za-z0-9._~/-]*$/.test(url.pathname) || url.pathname.includes('//')) return 'has a path that is not plain letters, digits and ._~-/';
  // What is checked is what is written: no text the URL parser would drop or rewrite (tabs, "\", "%2E").
  if (text.replace(/\/+$/, '') !== canonicalOrigin(url)) return `is not written plainly (the URL reads as ${canonicalOrigin(url)})`;
  return null;
}

function canonicalOrigin(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`.replace(/\/+$/, '');
}

const CHALLENGE_LOCATIONS: ValueSpec[] = [
  {
    name: 'CHALLENGE_ORIGIN',
    description: 'where the challenge objects are served, without the .well-known/acme-challenge/ prefix: the bucket path-style (https://s3.us-east-1.amazonaws.com/BUCKET)',
    problem: origin,
    normalize: (item) => item.replace(/\/+$/, ''),
  },
  {
    name: 'RESOLVER',
    description: 'DNS servers nginx resolves the origin with at request time',
    list: 'words',
    fallback: (host) => (host.nameservers.length > 0 ? host.nameservers.join(' ') : undefined),
    problem: nameserver,
    normalize: (item) => (isIPv6(item) ? `[${item}]` : item),
  },
  {
    name: 'CA_BUNDLE',
    description: "CA certificates nginx verifies the origin's TLS certificate with",
    fallback: () => '/etc/ssl/certs/ca-certificates.crt',
    problem: path,
  },
];

/** Every template the agent fills in, by file name, with the values it takes. */
const TEMPLATES: Record<string, ValueSpec[]> = {
  'acme-challenge.conf.template': CHALLENGE_LOCATIONS,
  'acme-challenge-server.conf.template': [
    { name: 'HTTP_LISTEN', description: 'port-80 listen addresses', list: 'lines', fallback: () => '80 [::]:80', problem: listen },
    { name: 'LOCATIONS_FILE', description: 'the rendered acme-challenge.conf to include', fallback: () => '/etc/nginx/snippets/acme-challenge.conf', problem: path },
  ],
  'site.conf.template': [
    { name: 'DOMAIN', description: 'the domain; its www. name is served too', problem: domain },
    { name: 'HTTPS_LISTEN', description: 'TLS listen addresses', list: 'lines', fallback: () => '443 [::]:443', problem: listen },
    { name: 'CERTS_DIR', description: 'where the agent installs <domain>/domain.crt and domain.key', fallback: () => '/etc/nginx/certs', problem: path },
    { name: 'DOCUMENT_ROOT', description: "the site's files", fallback: () => '/var/www/html', problem: path },
  ],
};

/** Values computed from a given one (never given directly): the origin's Host header and TLS name. */
const DERIVED: { name: string; from: string; derive: (value: string) => string }[] = [
  { name: 'CHALLENGE_HOST', from: 'CHALLENGE_ORIGIN', derive: (value) => new URL(value).host },
  { name: 'CHALLENGE_TLS_NAME', from: 'CHALLENGE_ORIGIN', derive: (value) => new URL(value).hostname.replace(/^\[|\]$/g, '') },
];

/** Returns the names of the templates this code can fill in. */
export function templateNames(): string[] {
  return Object.keys(TEMPLATES).sort();
}

/** Returns one line per value `template` takes: name, required or default, description. */
export function describeTemplateValues(template: string, host: HostFacts): string[] {
  return specsOf(template).map((spec) => {
    const fallback = spec.fallback?.(host);
    return `  ${spec.name.padEnd(16)} ${fallback === undefined ? 'required' : `default ${JSON.stringify(fallback)}`}  ${spec.description}`;
  });
}

/**
 * Returns `text` (the template named `template`) with every placeholder filled from `given`
 * (NAME → value) or its default. Throws TemplateError, naming the value, for an unknown name, a
 * missing or malformed value, or a placeholder the template uses that this code does not know.
 */
export function renderTemplate(template: string, text: string, given: Readonly<Record<string, string>>, host: HostFacts): string {
  const specs = specsOf(template);
  const known = new Set(specs.map((spec) => spec.name));
  const unknown = Object.keys(given).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new TemplateError(`${template}: unknown value(s) ${unknown.map((name) => printable(name)).join(', ')} (it takes ${[...known].join(', ')})`);

  const values: Record<string, string> = {};
  const lines: Record<string, string[]> = {};
  for (const spec of specs) {
    const value = given[spec.name] ?? spec.fallback?.(host);
    if (value === undefined || value.trim() === '') throw new TemplateError(`${template}: ${spec.name} is required (${spec.description})`);
    const items = spec.list ? value.split(/[\s,]+/).filter(Boolean) : [value];
    for (const item of items) {
      const problem = spec.problem(item);
      if (problem) throw new TemplateError(`${template}: ${spec.name} "${printable(item)}" ${problem}`);
    }
    const normalized = items.map((item) => spec.normalize?.(item) ?? item);
    if (spec.list === 'lines') lines[spec.name] = normalized;
    else values[spec.name] = normalized.join(' ');
  }
  for (const { name, from, derive } of DERIVED) if (from in values) values[name] = derive(values[from] as string);

  return text
    .split('\n')
    .map((line) => fillLine(template, line, values, lines))
    .join('\n');
}

function specsOf(template: string): ValueSpec[] {
  const specs = TEMPLATES[template];
  if (!specs) throw new TemplateError(`${printable(template)}: not a template this agent fills in (known: ${templateNames().join(', ')})`);
  return specs;
}

function fillLine(template: string, line: string, values: Record<string, string>, lists: Record<string, string[]>): string {
  const names = [...line.matchAll(/\{\{([^}]*)\}\}/g)].map((match) => match[1] as string);
  for (const name of names) {
    if (!(name in values) && !(name in lists)) throw new TemplateError(`${template}: uses {{${printable(name)}}}, which this agent does not fill in (a template from another version?)`);
  }
  const listed = [...new Set(names.filter((name) => name in lists))];
  if (listed.length > 1) throw new TemplateError(`${template}: one line uses two list values (${listed.join(', ')})`);
  const substitute = (text: string, item?: string) => text.replace(/\{\{([^}]*)\}\}/g, (_match, name: string) => (name in lists ? (item as string) : (values[name] as string)));
  const [list] = listed;
  if (!list) return substitute(line);
  return (lists[list] as string[]).map((item) => substitute(line, item)).join('\n');
}
