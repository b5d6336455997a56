/**
 * The renewal decision: a pure function of the stored certificate, the configuration, the domain
 * key, the time now and the time of the next scheduled run.
 */

import { renewalInfoReason, type StoredRenewalInfo } from './ari.js';
import type { CertificateFacts } from './certificate.js';
import { sameNames } from './domain-config.js';

export interface RenewalInput {
  /** Facts of the stored certificate, or null when there is none (or it cannot be read). */
  certificate: Pick<CertificateFacts, 'names' | 'notBefore' | 'notAfter' | 'publicKeySha256'> | null;
  /** Why the stored certificate cannot be trusted (tampered, broken chain, …), or null. */
  problem: string | null;
  /** The names the certificate must cover, as configured. */
  names: readonly string[];
  /** SHA-256 of the domain key's public key; null when there is no usable key yet. */
  keySha256: string | null;
  now: Date;
  /** When the schedule next runs: a certificate must not enter its last third before then. */
  nextRunAt: Date;
  /** When the next run of any kind comes (a check run, or the schedule's): the horizon of ARI and of short lifetimes. */
  nextCheckAt: Date;
  /** The CA's renewal window for the stored certificate (ARI, RFC 9773), or null: none offered, or none could be fetched. */
  renewalInfo: StoredRenewalInfo | null;
  /** When the schedule last ran (at or before `now`): a certificate issued since then is this period's. */
  previousRunAt: Date;
  force: boolean;
  /** How far a notBefore may lie ahead of `now` before it is a clock problem (clocks differ). */
  skewAllowanceMs: number;
  /** True when this run's clock was measured against the CA's and agrees within the allowance. */
  clockConfirmed: boolean;
}

export type RenewalDecision =
  | { renew: true; reason: string }
  | { renew: false; reason: string; renewAt: Date }
  /** The stored certificate starts further ahead than clocks can differ: this clock is wrong, and a new order would not help. */
  | { renew: false; reason: string; clockProblem: true };

/** The fraction of a certificate's lifetime after which it is renewed (the last third is kept spare). */
export const RENEW_AFTER_FRACTION = 2 / 3;

/**
 * The least fraction of its lifetime a certificate issued at one scheduled run must have left at
 * the next; the hourly watch raises the alarm below the same quarter (SERVED_LAPSE_FRACTION).
 */
export const MIN_LEFT_AT_NEXT_RUN = 1 / 4;

/**
 * Returns whether to renew now, and why. A certificate is renewed when it is missing, untrustworthy,
 * for other names or another key, outside its validity period, when the CA's renewal window (ARI)
 * puts its renewal before the next run, or when it would reach the last third of its lifetime before
 * the next scheduled run: so a run that skips it leaves it a third of its lifetime after the next
 * run, whatever the lifetime and the cadence. A lifetime too short for the schedule (see
 * scheduleTooSparse) is renewed by the check runs instead, in the same way.
 */
export function decideRenewal(input: RenewalInput): RenewalDecision {
  const { certificate, now, nextRunAt } = input;
  if (input.force) return { renew: true, reason: 'forced' };
  if (!certificate) return { renew: true, reason: 'no certificate' };
  if (input.keySha256 === null || certificate.publicKeySha256 !== input.keySha256) return { renew: true, reason: 'certificate does not match the domain key' };
  if (!sameNames(certificate.names, input.names)) return { renew: true, reason: `names changed (certificate: ${certificate.names.join(' ')}; configured: ${[...input.names].sort().join(' ')})` };
  if (now >= certificate.notAfter) return { renew: true, reason: `expired on ${certificate.notAfter.toISOString()}` };
  if (now.getTime() + input.skewAllowanceMs < certificate.notBefore.getTime()) {
    const ahead = Math.round((certificate.notBefore.getTime() - now.getTime()) / 60_000);
    // A clock that agrees with the CA's: the certificate itself is dated wrong (put there by hand).
    if (input.clockConfirmed) return { renew: true, reason: `the stored certificate is not valid before ${certificate.notBefore.toISOString()}, ${ahead} min from now by a clock that agrees with the CA's: not trustworthy` };
    return { renew: false, clockProblem: true, reason: `the stored certificate is not valid before ${certificate.notBefore.toISOString()}, ${ahead} min after this run's clock (more than the ${Math.round(input.skewAllowanceMs / 60_000)} min allowed for clock skew): is this clock behind? Not renewed: a new certificate would look the same` };
  }
  if (input.problem) return { renew: true, reason: `stored certificate is not trustworthy: ${input.problem}` };
  // The CA's window comes before freshness: a CA asks a certificate issued today back when it must revoke it.
  const byWindow = input.renewalInfo ? renewalInfoReason(input.renewalInfo, input.nextCheckAt) : null;
  if (byWindow) return { renew: true, reason: byWindow };
  // A window that closes with a quarter of the lifetime still left decides alone: the check runs
  // renew inside it, and the schedule rule would order again, days later, a certificate the window
  // had just renewed (45-day certificates, a window at day 30, a monthly run on the 15th).
  if (input.renewalInfo && windowLeavesEnough(input.renewalInfo, certificate)) {
    return { renew: false, reason: `the CA's renewal window (${input.renewalInfo.windowStart} to ${input.renewalInfo.windowEnd}) puts its renewal at ${input.renewalInfo.selectedAt}: a check run renews it then`, renewAt: new Date(input.renewalInfo.selectedAt) };
  }
  const renewAt = renewalPoint(certificate.notBefore, certificate.notAfter);
  if (scheduleTooSparse(certificate, input.previousRunAt, nextRunAt)) {
    const horizon = input.nextCheckAt < nextRunAt ? input.nextCheckAt : nextRunAt;
    if (renewAt > horizon) return { renew: false, reason: `valid until ${certificate.notAfter.toISOString()}; renews after ${renewAt.toISOString()} (its lifetime is too short for the schedule: the check runs renew it)`, renewAt };
    if (youngerThanADay(certificate, now)) return { renew: false, reason: `issued ${certificate.notBefore.toISOString()}, less than a day ago: renews at the next run`, renewAt };
    return { renew: true, reason: `enters its last third (${renewAt.toISOString()}) before the next check run (${horizon.toISOString()})` };
  }
  const fresh = renewAt <= nextRunAt ? freshness(certificate, now, input.previousRunAt, nextRunAt) : null;
  if (fresh) return { renew: false, reason: `issued ${certificate.notBefore.toISOString()}, ${fresh}: renews at the next run`, renewAt };
  if (renewAt <= nextRunAt) return { renew: true, reason: `enters its last third (${renewAt.toISOString()}) before the next run (${nextRunAt.toISOString()})` };
  return { renew: false, reason: `valid until ${certificate.notAfter.toISOString()}; renews after ${renewAt.toISOString()}`, renewAt };
}

/** True when the CA's window ends with at least a quarter of the certificate's lifetime left (a window later than that, the schedule rule also guards). */
function windowLeavesEnough(window: StoredRenewalInfo, certificate: Pick<CertificateFacts, 'notBefore' | 'notAfter'>): boolean {
  const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
  return new Date(window.windowEnd).getTime() <= certificate.notAfter.getTime() - lifetime * MIN_LEFT_AT_NEXT_RUN;
}

/**
 * True when the schedule's period is too long for the certificate's lifetime: one issued at a
 * scheduled run would have less than a quarter of its lifetime left at the next (6-day
 * certificates and a monthly schedule). Such certificates are renewed by the check runs.
 */
export function scheduleTooSparse(certificate: Pick<CertificateFacts, 'notBefore' | 'notAfter'>, previousRunAt: Date, nextRunAt: Date): boolean {
  const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
  const period = nextRunAt.getTime() - previousRunAt.getTime();
  return lifetime - period < lifetime * MIN_LEFT_AT_NEXT_RUN;
}

function youngerThanADay(certificate: Pick<CertificateFacts, 'notBefore' | 'notAfter'>, now: Date): boolean {
  const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
  return now.getTime() - certificate.notBefore.getTime() < Math.min(DAY_MS, lifetime / 3);
}

/**
 * A fresh certificate is not renewed for the window alone. With 45-day certificates and a 31-day
 * month every certificate is due the moment it is issued, and a second invocation in the same
 * period (the daily check run, a manual run, a retry) must not order it again. Fresh means: issued
 * since the previous scheduled run (with a day of slack: CAs backdate notBefore, and a manual run
 * may come just before the scheduled one) and still valid at the next, or younger than a day (or
 * a third of its lifetime, if shorter).
 */
function freshness(certificate: Pick<CertificateFacts, 'notBefore' | 'notAfter'>, now: Date, previousRunAt: Date, nextRunAt: Date): string | null {
  if (certificate.notBefore.getTime() >= previousRunAt.getTime() - DAY_MS && certificate.notAfter > nextRunAt) return 'in this schedule period';
  if (youngerThanADay(certificate, now)) return 'less than a day ago';
  return null;
}

const DAY_MS = 86_400_000;

/** Returns the moment a certificate enters the last third of its lifetime. */
export function renewalPoint(notBefore: Date, notAfter: Date): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return new Date(notBefore.getTime() + Math.floor(lifetime * RENEW_AFTER_FRACTION));
}

/**
 * Returns a warning when the runs are too sparse for a certificate's lifetime, or null: when the
 * check runs leave less than a quarter of it (`checkPeriodMs`: the longest time between two
 * runs of any kind), the certificate may lapse; when only the schedule is too sparse (see
 * scheduleTooSparse), the check runs renew it, which works but is not the cadence people chose.
 */
export function scheduleWarning(args: { certificate: Pick<CertificateFacts, 'notBefore' | 'notAfter'>; previousRunAt: Date; nextRunAt: Date; checkPeriodMs: number }): { lapseRisk: boolean; warning: string } | null {
  const { certificate } = args;
  const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
  const days = formatDays(lifetime);
  if (lifetime - args.checkPeriodMs < lifetime * MIN_LEFT_AT_NEXT_RUN) {
    return { lapseRisk: true, warning: `${days} certificates outlast too few runs: the runs come up to ${formatSpan(args.checkPeriodMs)} apart, which leaves less than a quarter of the lifetime; run the checks twice daily (stack parameter checkFrequency=twice-daily) or choose a longer-lived profile` };
  }
  if (scheduleTooSparse(certificate, args.previousRunAt, args.nextRunAt)) {
    return { lapseRisk: false, warning: `${days} certificates are too short-lived for the renewal schedule (runs ${formatSpan(args.nextRunAt.getTime() - args.previousRunAt.getTime())} apart): the check runs renew them instead, up to ${formatSpan(args.checkPeriodMs)} apart (see the README's table of profiles and schedules)` };
  }
  return null;
}

function formatSpan(ms: number): string {
  const hours = Math.round(ms / 3_600_000);
  return hours > 48 ? `${Math.round(ms / DAY_MS)} days` : `${hours} hours`;
}

function formatDays(ms: number): string {
  const days = ms / DAY_MS;
  return days >= 2 ? `${Math.round(days)}-day` : `${Math.round(ms / 3_600_000)}-hour`;
}

/**
 * Returns why a newly issued certificate must not replace the stored one, or null when it may: a
 * stored certificate that is still good (right key, right names, trustworthy, not expired) is never
 * replaced by an older one (an earlier notBefore). A shorter lifetime is no reason to refuse: CAs
 * shorten lifetimes, and refusing would order a certificate at every run only to throw it away.
 */
export function replacementProblem(args: {
  stored: Pick<CertificateFacts, 'names' | 'notBefore' | 'notAfter' | 'publicKeySha256'> | null;
  storedProblem: string | null;
  issued: Pick<CertificateFacts, 'notBefore'>;
  names: readonly string[];
  /** The stored domain key's public key digest (null: none usable): a renewal may use a new key. */
  storedKeySha256: string | null;
  now: Date;
}): string | null {
  const { stored } = args;
  if (!stored || args.storedProblem) return null;
  const storedIsGood = stored.publicKeySha256 === args.storedKeySha256 && sameNames(stored.names, args.names) && args.now >= stored.notBefore && args.now < stored.notAfter;
  if (storedIsGood && args.issued.notBefore < stored.notBefore) {
    return `new certificate is older (notBefore ${args.issued.notBefore.toISOString()}) than the stored one (${stored.notBefore.toISOString()})`;
  }
  return null;
}
