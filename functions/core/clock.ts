/**
 * How far this run's clock is from the CA's, measured on the CA's `Date` header (RFC 9110 §6.6.1):
 * certificates start at the CA's now, so a clock behind it makes a fresh certificate look "not
 * valid yet". Pure: the adapter hands in the header and when the answer arrived.
 */

/** A skew above this is worth a warning in the log, though within the allowance. */
export const SKEW_WARNING_MS = 60_000;

export interface ClockSkew {
  /** This clock minus the CA's (positive: this clock is ahead), rounded to seconds: the header's resolution. */
  skewMs: number;
  /** Why the run must not go on (beyond the allowance), or null. */
  problem: string | null;
  /** Worth saying though within the allowance, or null. */
  warning: string | null;
}

/** Returns the skew between `receivedAt` (this clock) and the CA's `Date` header, or null when the header cannot be read. */
export function judgeClockSkew(dateHeader: string | null | undefined, receivedAt: Date, allowanceMs: number): ClockSkew | null {
  const caNow = Date.parse(dateHeader ?? '');
  if (Number.isNaN(caNow)) return null;
  const skewMs = Math.round((receivedAt.getTime() - caNow) / 1000) * 1000;
  const size = Math.abs(skewMs);
  const words = `this run's clock is ${describeDuration(size)} ${skewMs > 0 ? 'ahead of' : 'behind'} the CA's (its Date header: ${new Date(caNow).toISOString()})`;
  if (size > allowanceMs) return { skewMs, problem: `${words}, more than the ${describeDuration(allowanceMs)} allowed (CLOCK_SKEW_ALLOWANCE_SECONDS): no order is placed with a clock this wrong`, warning: null };
  if (size > SKEW_WARNING_MS) return { skewMs, problem: null, warning: `${words}; within the ${describeDuration(allowanceMs)} allowed` };
  return { skewMs, problem: null, warning: null };
}

function describeDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
