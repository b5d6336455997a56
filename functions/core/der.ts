/**
 * The few DER encodings (X.690) this tool writes itself: the placeholder certificate
 * (core/placeholder.ts) and the certificate signing request (core/keys.ts). node's crypto makes the
 * keys and the signatures; these build what it cannot, the structures around them. A library for
 * it (@peculiar/x509 with asn1js) would be a quarter of the renew bundle, evaluated on every cold
 * start that orders, for two small structures.
 */

/** Returns a DER element (X.690 §8.1): tag, definite length, content. */
export function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const length: number[] = [];
  for (let rest = body.length; rest > 0; rest = Math.floor(rest / 256)) length.unshift(rest % 256);
  const header = body.length < 0x80 ? [body.length] : [0x80 | length.length, ...length];
  return Buffer.concat([Buffer.from([tag, ...header]), body]);
}

export function sequence(...content: Buffer[]): Buffer {
  return der(0x30, ...content);
}

export function set(...content: Buffer[]): Buffer {
  return der(0x31, ...content);
}

export function utf8(text: string): Buffer {
  return der(0x0c, Buffer.from(text, 'utf8'));
}

/** A non-negative INTEGER below 128. */
export function smallInteger(value: number): Buffer {
  return der(0x02, Buffer.from([value]));
}

/** A BIT STRING of whole bytes (no unused bits). */
export function bitString(bytes: Buffer): Buffer {
  return der(0x03, Buffer.from([0]), bytes);
}

export function octetString(bytes: Buffer): Buffer {
  return der(0x04, bytes);
}

/** An OBJECT IDENTIFIER (X.690 §8.19): the first two arcs in one byte, the others base 128. */
export function oid(dotted: string): Buffer {
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
export function time(date: Date): Buffer {
  const digits = `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(digits.slice(2))) : der(0x18, Buffer.from(digits));
}

/** A subjectAltName extension (RFC 5280 §4.2.1.6) of dNSNames. */
export function subjectAltNames(names: readonly string[]): Buffer {
  return sequence(oid('2.5.29.17'), octetString(sequence(...names.map((name) => der(0x82, Buffer.from(name, 'ascii'))))));
}

/** Returns `body` as PEM (RFC 7468) under `label`. */
export function pem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Returns the bytes of the first PEM block (RFC 7468) of `text`; throws when it holds none. */
export function pemBody(text: string): Buffer {
  const block = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!block) throw new Error('not PEM: no BEGIN/END block');
  return Buffer.from((block[2] as string).replace(/\s+/g, ''), 'base64');
}
