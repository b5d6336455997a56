/**
 * Per-domain configuration (`<domain>/config.json`), parsed and checked.
 */

import { domainNameProblem, printable } from './domain-name.js';

export const KEY_TYPES = ['ecdsa-p256', 'rsa-2048', 'rsa-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** What a domain's certificate must look like. */
export interface DomainConfig {
  /** Every name the certificate covers, sorted, without duplicates; includes the domain itself. */
  names: string[];
  keyType: KeyType;
  /** The CA profile to order with (the directory's `meta.profiles` must offer it); null: the CA's default. */
  profile: string | null;
  /** Keep the domain key from one renewal to the next; by default every renewal makes a new one. */
  reuseKey: boolean;
}

/** Let's Encrypt's limit on names per certificate. */
const MAX_NAMES = 100;
const FIELDS = new Set(['names', 'keyType', 'profile', 'reuseKey']);
/** A profile name as ACME profiles look (draft-aaron-acme-profiles): a short token. */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Returns the default configuration: the domain and `www.` the domain (when that is a valid name), ECDSA P-256. */
export function defaultDomainConfig(domain: string): DomainConfig {
  const www = `www.${domain}`;
  return { names: sortNames(domainNameProblem(www) ? [domain] : [domain, www]), keyType: 'ecdsa-p256', profile: null, reuseKey: false };
}

/**
 * Returns the configuration for `domain` from the text of its config.json (null: no file).
 * Throws an Error whose message names the field at fault; unknown fields are errors, so a typo
 * never silently falls back to a default.
 */
export function parseDomainConfig(domain: string, text: string | null): DomainConfig {
  const config = defaultDomainConfig(domain);
  if (text === null) return config;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`config.json is not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('config.json must be a JSON object');
  const fields = raw as Record<string, unknown>;
  for (const field of Object.keys(fields)) {
    if (!FIELDS.has(field)) throw new Error(`config.json has unknown field "${printable(field)}" (known: names, keyType, profile, reuseKey)`);
  }
  if (fields.names !== undefined) config.names = parseNames(domain, fields.names);
  if (fields.keyType !== undefined) config.keyType = parseKeyType(fields.keyType);
  if (fields.profile !== undefined && fields.profile !== null) config.profile = parseProfile(fields.profile);
  if (fields.reuseKey !== undefined) {
    if (typeof fields.reuseKey !== 'boolean') throw new Error('config.json "reuseKey" must be true or false');
    config.reuseKey = fields.reuseKey;
  }
  return config;
}

function parseNames(domain: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new Error('config.json "names" must be a non-empty array of names');
  const names = sortNames(value.map((name, index) => {
    if (typeof name !== 'string') throw new Error(`config.json "names"[${index}] is not a string`);
    const problem = domainNameProblem(name);
    if (problem) throw new Error(`config.json "names"[${index}] "${printable(name)}": ${problem}`);
    return name;
  }));
  if (!names.includes(domain)) throw new Error(`config.json "names" must include the domain itself (${domain})`);
  if (names.length > MAX_NAMES) throw new Error(`config.json "names" has ${names.length} names; the limit is ${MAX_NAMES}`);
  return names;
}

function parseKeyType(value: unknown): KeyType {
  if (typeof value === 'string' && (KEY_TYPES as readonly string[]).includes(value)) return value as KeyType;
  throw new Error(`config.json "keyType" must be one of ${KEY_TYPES.join(', ')}`);
}

function parseProfile(value: unknown): string {
  if (typeof value === 'string' && PROFILE_NAME.test(value)) return value;
  throw new Error(`config.json "profile" must be a profile name such as "tlsserver" (letters, digits, ".", "_", "-"), not ${typeof value === 'string' ? `"${printable(value.slice(0, 70))}"` : JSON.stringify(value)}`);
}

/** Returns the names sorted and without duplicates: the canonical form compared everywhere. */
export function sortNames(names: readonly string[]): string[] {
  return [...new Set(names)].sort();
}

/** Returns true when both lists hold the same names, in any order. */
export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const left = sortNames(a);
  const right = sortNames(b);
  return left.length === right.length && left.every((name, i) => name === right[i]);
}
