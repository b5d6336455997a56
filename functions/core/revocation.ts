/**
 * Certificate revocation (RFC 8555 §7.6): the RFC 5280 §5.3.1 reason codes Let's Encrypt accepts.
 */

export const REVOCATION_REASONS = { unspecified: 0, keyCompromise: 1, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5 } as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;
