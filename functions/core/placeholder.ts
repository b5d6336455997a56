/**
 * Self-signed placeholder pairs: nginx refuses to start when a site's certificate file is missing,
 * so the sync agent installs one of these until the real certificate arrives (as the original
 * setup's nginx `run` script did). Browsers reject them, by design.
 */

import { createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';

/** The organization name that marks a placeholder certificate. */
export const PLACEHOLDER_ORGANIZATION = 'acme-sync placeholder';

/** Returns a new RSA key for placeholders; one key may serve every placeholder of a run (nobody trusts them). */
export function createPlaceholderKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

/**
 * Returns a self-signed certificate and its key (PEM) for `domain` and `www.` it, valid from `now`
 * for `days`. node's crypto makes the key and signs; the X.509 (RFC 5280 §4.1), which node cannot
 * build, is written here in DER: a library for it would be a third of the agent's bundle, loaded
 * by every run, for a certificate that is made once per domain.
 */
export function createPlaceholder(domain: string, now: Date, privateKey: KeyObject = createPlaceholderKey(), days = 3650): { certificatePem: string; keyPem: string } {
  const name = sequence(
    set(sequence(oid('2.5.4.3'), utf8(domain.length <= 64 ? domain : 'placeholder'))),
    set(sequence(oid('2.5.4.10'), utf8(PLACEHOLDER_ORGANIZATION))),
  );
  const sha256WithRsa = sequence(oid('1.2.840.113549.1.1.11'), der(0x05));
  const extension = (id: string, value: Buffer) => sequence(oid(id), der(0x04, value));
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))), // version v3
    der(0x02, Buffer.concat([Buffer.from([1]), randomBytes(15)])), // a positive serial of 16 bytes
    sha256WithRsa,
    name,
    sequence(time(new Date(now.getTime() - 60_000)), time(new Date(now.getTime() + days * 86_400_000))),
    name,
    createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
    der(0xa3, sequence(
      extension('2.5.29.19', sequence()), // basicConstraints: not a CA
      extension('2.5.29.15', der(0x03, Buffer.from([5, 0xa0]))), // keyUsage: digitalSignature, keyEncipherment
      extension('2.5.29.37', sequence(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
      extension('2.5.29.17', sequence(der(0x82, Buffer.from(domain)), der(0x82, Buffer.from(`www.${domain}`)))), // subjectAltName: dNSName
    )),
  );
  const certificate = sequence(tbs, sha256WithRsa, der(0x03, Buffer.from([0]), sign('sha256', tbs, privateKey)));
  const lines = certificate.toString('base64').match(/.{1,64}/g) ?? [];
  return { certificatePem: `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Returns a DER element (X.690 §8.1): tag, definite length, content. */
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const length: number[] = [];
  for (let rest = body.length; rest > 0; rest = Math.floor(rest / 256)) length.unshift(rest % 256);
  const header = body.length < 0x80 ? [body.length] : [0x80 | length.length, ...length];
  return Buffer.concat([Buffer.from([tag, ...header]), body]);
}

function sequence(...content: Buffer[]): Buffer {
  return der(0x30, ...content);
}

function set(...content: Buffer[]): Buffer {
  return der(0x31, ...content);
}

function utf8(text: string): Buffer {
  return der(0x0c, Buffer.from(text, 'utf8'));
}

/** An OBJECT IDENTIFIER (X.690 §8.19): the first two arcs in one byte, the others base 128. */
function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let value = arc; groups.length === 0 || value > 0; value = Math.floor(value / 128)) groups.unshift(value % 128);
    bytes.push(...groups.map((group, index) => (index < groups.length - 1 ? group | 0x80 : group)));
  }
  return der(0x06, Buffer.from(bytes));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const digits = `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(digits.slice(2))) : der(0x18, Buffer.from(digits));
}

/** Returns true when the PEM text's first certificate is a placeholder made by createPlaceholder. */
export function isPlaceholder(certificatePem: string): boolean {
  try {
    const certificate = new X509Certificate(certificatePem);
    return certificate.subject.includes(`O=${PLACEHOLDER_ORGANIZATION}`) && certificate.subject === certificate.issuer;
  } catch {
    return false;
  }
}
