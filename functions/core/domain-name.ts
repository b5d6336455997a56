/**
 * Domain-name validation for certificate folders and the names in a certificate.
 *
 * Folder names come from S3 keys that anyone with write access to the bucket can create, and the
 * sync agent turns them into paths on the web host, so the rules are strict: lowercase LDH labels
 * only. Anything that could be a path (`..`, `/`, `\`), a wildcard, or an IP address is refused.
 */

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_NAME_LENGTH = 253;

/** Returns why `name` is not a valid DNS name for an HTTP-01 certificate, or null when it is. */
export function domainNameProblem(name: string): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'empty name';
  if (name.length > MAX_NAME_LENGTH) return `longer than ${MAX_NAME_LENGTH} characters`;
  if (name.includes('*')) return 'wildcard names need DNS-01 validation, which this tool does not use';
  if (/[/\\]/.test(name)) return 'contains a path separator';
  if (name.includes('..')) return 'contains an empty label ("..")';
  if (name !== name.toLowerCase()) return 'contains uppercase letters (folder names must be lowercase)';
  if (name.startsWith('.') || name.endsWith('.')) return 'starts or ends with a dot';
  const labels = name.split('.');
  if (labels.length < 2) return 'a single label is not a public domain name';
  for (const label of labels) {
    if (label.length > 63) return `label "${label.slice(0, 20)}…" is longer than 63 characters`;
    if (!LABEL.test(label)) return `label "${printable(label)}" is not letters, digits and inner hyphens`;
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return 'looks like an IP address';
  return null;
}

/** Returns true when `name` is a valid certificate domain name (see domainNameProblem). */
export function isDomainName(name: string): boolean {
  return domainNameProblem(name) === null;
}

/** Quotes untrusted text for an error message: control characters escaped, length capped. */
export function printable(text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return JSON.stringify(shown).slice(1, -1);
}
