/**
 * The ACME account's contact (RFC 8555 §7.3.2): updated only when it changed. Let's Encrypt no
 * longer returns contacts in the account object (it stopped storing e-mail addresses in 2025), so
 * comparing with what the CA returns would update the account on every run; what this tool last
 * set is recorded (`.acme-account.json`) and compared instead, whenever the CA returns none.
 */

/** What the renew function records of its account. */
export interface AccountRecord {
  accountUrl: string;
  /** The contact this tool last set (or found set), e.g. ["mailto:ops@example.com"]. */
  contact: string[];
}

/** Returns the contact URLs for an e-mail address (none for none). */
export function contactFor(email: string | undefined): string[] {
  return email ? [`mailto:${email}`] : [];
}

/**
 * Returns whether the account's contact must be updated to `wanted`: when the CA returns a
 * contact, if it differs; when it returns none, if what was recorded for this account differs
 * (nothing recorded: only if a contact is wanted).
 */
export function contactNeedsUpdate(args: { wanted: readonly string[]; returned: readonly string[] | undefined; record: AccountRecord | null; accountUrl: string }): boolean {
  const { wanted, returned, record } = args;
  if (returned && returned.length > 0) return !sameList(returned, wanted);
  if (record && record.accountUrl === args.accountUrl) return !sameList(record.contact, wanted);
  return wanted.length > 0;
}

/** Returns the record in `text`, or null when there is none or it cannot be read (then the contact is set again, once). */
export function parseAccountRecord(text: string | null): AccountRecord | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<AccountRecord>;
    if (typeof value.accountUrl !== 'string' || !Array.isArray(value.contact) || !value.contact.every((item) => typeof item === 'string')) return null;
    return { accountUrl: value.accountUrl, contact: value.contact };
  } catch {
    return null;
  }
}

export function formatAccountRecord(record: AccountRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  const left = [...a].sort();
  const right = [...b].sort();
  return left.length === right.length && left.every((item, index) => item === right[index]);
}
