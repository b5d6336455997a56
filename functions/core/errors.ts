/**
 * Errors that name their subject and step: `example.com: verifying certificate: key does not match`.
 */

/** The named steps of renewing one domain, in protocol order. */
export type RenewStep =
  | 'load'
  | 'decide'
  | 'lock'
  | 'prepare key'
  | 'preflight'
  | 'account'
  | 'order'
  | 'authorize'
  | 'publish challenge'
  | 'validate'
  | 'finalize'
  | 'download'
  | 'verify'
  | 'store'
  | 'clean up';

/** A failure of one domain at one step; `cause` keeps the original error. */
export class DomainStepError extends Error {
  override readonly name = 'DomainStepError';
  /** Things that happened before the failure and are worth telling (a lock taken over). */
  events?: string[];
  constructor(
    readonly domain: string,
    readonly step: RenewStep,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${domain}: ${step}: ${reason}`, options);
  }
}

/** A certificate that does not pass verification; `reason` says which check failed. */
export class VerificationError extends Error {
  override readonly name = 'VerificationError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Configuration that is missing or malformed; raised by entry points before any work starts. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** Returns the message of any thrown value, with every PEM block removed (secrets never reach logs). */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return redactPem(message);
}

/** Replaces every PEM block in `text` with a placeholder naming its type. */
export function redactPem(text: string): string {
  // In JSON text a PEM's newlines are the two characters \n: the lazy match spans them either way.
  return text.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?(?:-----END \1-----|$)/g, '[redacted $1]');
}
