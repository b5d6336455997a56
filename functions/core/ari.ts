/**
 * ACME Renewal Information (ARI, RFC 9773): the certificate identifier, the CA's suggested
 * renewal window, and when to renew inside it. Pure: the caller fetches the window and passes
 * `now` and a random number in.
 */

import { X509Certificate } from 'node:crypto';

/** A suggested renewal window as the CA sent it (RFC 9773 §4.2), checked. */
export interface RenewalWindow {
  start: Date;
  end: Date;
}

/** What a renewalInfo request answered: the window, the CA's explanation, and when to ask again. */
export interface RenewalInfo {
  window: RenewalWindow;
  /** A page the CA links to explain the window (a mass revocation, for example); null when none. */
  explanationUrl: string | null;
  /** The Retry-After of the answer, in seconds (null: none sent). */
  retryAfterSeconds: number | null;
}

/**
 * What status.json keeps of the last renewalInfo answer (`renewalInfo`): the window, the point
 * chosen in it (chosen once per window, RFC 9773 §4.2), and the earliest time to ask again.
 */
export interface StoredRenewalInfo {
  certId: string;
  windowStart: string;
  windowEnd: string;
  selectedAt: string;
  explanationUrl?: string;
  /** Not asked again before this (the answer's Retry-After, clamped). */
  nextFetchAt: string;
}

/**
 * Returns the ARI certificate identifier (RFC 9773 §4.1): base64url of the Authority Key
 * Identifier's keyIdentifier, a dot, base64url of the DER encoding of the serial number's value
 * (with the leading zero byte DER puts before a high bit). Both arguments are hex.
 */
export function renewalInfoId(authorityKeyIdHex: string, serialHex: string): string {
  const keyId = Buffer.from(authorityKeyIdHex.replace(/[^0-9a-f]/gi, ''), 'hex');
  let serial = serialHex.replace(/[^0-9a-f]/gi, '').replace(/^(00)+/, '');
  if (serial.length % 2 === 1) serial = `0${serial}`;
  if (serial === '') serial = '00';
  if (Number.parseInt(serial.slice(0, 2), 16) >= 0x80) serial = `00${serial}`;
  return `${keyId.toString('base64url')}.${Buffer.from(serial, 'hex').toString('base64url')}`;
}

/** Returns the ARI identifier of a certificate (PEM), or null when it has no Authority Key Identifier (no CA-issued certificate lacks one). */
export function certificateRenewalInfoId(leafPem: string): string | null {
  try {
    const certificate = new X509Certificate(leafPem);
    const keyId = authorityKeyIdentifier(certificate.raw);
    return keyId ? renewalInfoId(keyId, certificate.serialNumber) : null;
  } catch {
    return null;
  }
}

/** The AKI extension's OID, 2.5.29.35, as DER: 06 03 55 1D 23. */
const AKI_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x23]);

/**
 * Returns the keyIdentifier (hex) of the certificate's Authority Key Identifier extension
 * (RFC 5280 §4.2.1.1: Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue
 * OCTET STRING } whose value is SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, ... }), or null.
 * node's X509Certificate does not expose it, and an X.509 library would load 300 KB for 20 bytes.
 */
function authorityKeyIdentifier(der: Buffer): string | null {
  let at = der.indexOf(AKI_OID);
  if (at < 0) return null;
  at += AKI_OID.length;
  if (der[at] === 0x01) at += 2 + (der[at + 1] ?? 0);
  if (der[at] !== 0x04) return null;
  at = lengthEnd(der, at + 1);
  if (der[at] !== 0x30) return null;
  at = lengthEnd(der, at + 1);
  if (der[at] !== 0x80) return null;
  const length = readLength(der, at + 1);
  const start = lengthEnd(der, at + 1);
  return length > 0 && start + length <= der.length ? der.subarray(start, start + length).toString('hex') : null;
}

/** Returns the value of the DER length at `at` (short or long form). */
function readLength(der: Buffer, at: number): number {
  const first = der[at] ?? 0;
  if (first < 0x80) return first;
  let length = 0;
  for (let i = 1; i <= (first & 0x7f); i += 1) length = length * 256 + (der[at + i] ?? 0);
  return length;
}

/** Returns the offset just past the DER length at `at`. */
function lengthEnd(der: Buffer, at: number): number {
  const first = der[at] ?? 0;
  return at + 1 + (first < 0x80 ? 0 : first & 0x7f);
}

/**
 * Returns the window of a renewalInfo answer (RFC 9773 §4.2), or throws naming what is wrong:
 * a window that ends before it starts is malformed, and a client must then decide for itself.
 */
export function parseRenewalInfo(body: string, retryAfter: string | undefined, now: Date): RenewalInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new Error('the renewalInfo answer is not JSON');
  }
  const window = (raw as { suggestedWindow?: { start?: unknown; end?: unknown } } | null)?.suggestedWindow;
  const start = typeof window?.start === 'string' ? new Date(window.start) : null;
  const end = typeof window?.end === 'string' ? new Date(window.end) : null;
  if (!start || !end || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) throw new Error('the renewalInfo answer has no readable suggestedWindow');
  if (end <= start) throw new Error(`the renewalInfo window ends (${end.toISOString()}) before it starts (${start.toISOString()})`);
  return { window: { start, end }, explanationUrl: explanationUrl((raw as { explanationURL?: unknown }).explanationURL), retryAfterSeconds: parseRetryAfter(retryAfter, now) };
}

/** Returns the explanation as a normalized http(s) URL of at most 500 characters (it goes into logs, status.json and messages), or null. */
function explanationUrl(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.href.length <= 500 ? url.href : null;
  } catch {
    return null;
  }
}

/** Returns a Retry-After (RFC 9110 §10.2.3: seconds or an HTTP date) in seconds from `now`, or null. */
function parseRetryAfter(value: string | undefined, now: Date): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.round((at - now.getTime()) / 1000));
}

/** Retry-After is clamped to between a minute and a day (RFC 9773 §4.3 suggests these limits). */
const MIN_RECHECK_MS = 60_000;
const MAX_RECHECK_MS = 86_400_000;
/** Without a Retry-After, ask again after six hours (what Let's Encrypt sends). */
const DEFAULT_RECHECK_MS = 6 * 3_600_000;

/**
 * Returns what status.json keeps of a renewalInfo answer. The point in the window is kept from
 * `previous` while the window is the same (a client chooses once per window, RFC 9773 §4.2), and
 * chosen uniformly at random (`random` in [0, 1)) in a new one.
 */
export function storedRenewalInfo(certId: string, info: RenewalInfo, previous: StoredRenewalInfo | null, now: Date, random: number): StoredRenewalInfo {
  const sameWindow = previous?.certId === certId && previous.windowStart === info.window.start.toISOString() && previous.windowEnd === info.window.end.toISOString();
  const span = info.window.end.getTime() - info.window.start.getTime();
  const selectedAt = sameWindow && previous ? previous.selectedAt : new Date(info.window.start.getTime() + Math.floor(span * Math.min(Math.max(random, 0), 0.999999))).toISOString();
  const recheckMs = info.retryAfterSeconds === null ? DEFAULT_RECHECK_MS : Math.min(Math.max(info.retryAfterSeconds * 1000, MIN_RECHECK_MS), MAX_RECHECK_MS);
  return {
    certId,
    windowStart: info.window.start.toISOString(),
    windowEnd: info.window.end.toISOString(),
    selectedAt,
    ...(info.explanationUrl ? { explanationUrl: info.explanationUrl } : {}),
    nextFetchAt: new Date(now.getTime() + recheckMs).toISOString(),
  };
}

/** Returns true when the stored window of `certId` may be used without asking again (Retry-After has not passed). */
export function renewalInfoFresh(stored: StoredRenewalInfo | null | undefined, certId: string, now: Date): boolean {
  return !!stored && stored.certId === certId && now < new Date(stored.nextFetchAt);
}

/**
 * Returns true when what status.json keeps must be written: a new window (or point), or a
 * Retry-After that reaches past the next run (which must then not ask). Rewriting only then keeps
 * a run with nothing due from writing every folder.
 */
export function renewalInfoWorthStoring(next: StoredRenewalInfo, previous: StoredRenewalInfo | null | undefined, nextCheckAt: Date): boolean {
  if (!previous || previous.certId !== next.certId || previous.windowStart !== next.windowStart || previous.windowEnd !== next.windowEnd || previous.selectedAt !== next.selectedAt || previous.explanationUrl !== next.explanationUrl) return true;
  return new Date(next.nextFetchAt) > nextCheckAt && next.nextFetchAt !== previous.nextFetchAt;
}

/**
 * Returns why to renew now by the CA's window, or null: when the point chosen in the window falls
 * before the next run that could renew (RFC 9773 §4.2: "if the selected time is before the next
 * time that the client would wake up normally, attempt renewal immediately").
 */
export function renewalInfoReason(stored: StoredRenewalInfo, nextCheckAt: Date): string | null {
  if (new Date(stored.selectedAt) > nextCheckAt) return null;
  const explanation = stored.explanationUrl ? `; the CA explains: ${stored.explanationUrl}` : '';
  return `the CA's renewal window (${stored.windowStart} to ${stored.windowEnd}) puts its renewal at ${stored.selectedAt}, before the next run (${nextCheckAt.toISOString()})${explanation}`;
}
