import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredRenewalInfo } from '../../functions/core/ari.js';
import { decideRenewal, renewalPoint, replacementProblem, scheduleWarning, type RenewalInput } from '../../functions/core/renewal.js';
import { nextRunAfter, parseSchedule, previousRunAtOrBefore, type Schedule } from '../../functions/core/schedule.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const monthly = parseSchedule('cron(5 3 15 * ? *)');
const daily = parseSchedule('cron(35 4 * * ? *)');
const names = ['a.test', 'www.a.test'];
const keySha256 = 'a'.repeat(64);

/** The scheduled run of 15 January 2026; the next one is 15 February, 31 days later. */
const januaryRun = new Date('2026-01-15T03:05:00Z');
/** The scheduled run of 15 February 2026; the next one is 15 March, 28 days later. */
const februaryRun = new Date('2026-02-15T03:05:00Z');
/** A manual run between scheduled runs; the next scheduled run is 15 February. */
const manualRun = new Date('2026-01-20T12:00:00Z');

type Certificate = NonNullable<RenewalInput['certificate']>;

/** Returns a certificate for `names` and the domain key, `ageDays` old at `now`, valid for `lifetimeDays`. */
function certificate(lifetimeDays: number, ageDays: number, now: Date): Certificate {
  const notBefore = new Date(now.getTime() - ageDays * DAY);
  return { names, notBefore, notAfter: new Date(notBefore.getTime() + lifetimeDays * DAY), publicKeySha256: keySha256 };
}

/** Returns the input of a run at `now` on the monthly schedule with nothing wrong but `change`. */
function input(now: Date, stored: Certificate | null, change: Partial<RenewalInput> = {}): RenewalInput {
  return { certificate: stored, problem: null, names, keySha256, now, nextRunAt: nextRunAfter(monthly, now), nextCheckAt: nextCheck(monthly, now), previousRunAt: previousRunAtOrBefore(monthly, now), force: false, skewAllowanceMs: HOUR, clockConfirmed: false, renewalInfo: null, ...change };
}

/** The next run of any kind: the schedule's or the daily check run's. */
function nextCheck(schedule: Schedule, now: Date): Date {
  return earliest(nextRunAfter(schedule, now), nextRunAfter(daily, now));
}

function earliest(a: Date, b: Date): Date {
  return a < b ? a : b;
}

const byAge: { name: string; now: Date; lifetime: number; age: number; renew: boolean; reason: RegExp }[] = [
  { name: 'skips a 90-day certificate issued at this run', now: januaryRun, lifetime: 90, age: 0, renew: false, reason: /renews after 2026-03-16T03:05:00.000Z/ },
  { name: 'skips a 90-day certificate with 62 days left (last third starts a day after the next run)', now: januaryRun, lifetime: 90, age: 28, renew: false, reason: /renews after 2026-02-16T03:05:00.000Z/ },
  { name: 'renews a 90-day certificate with 61 days left (last third starts exactly at the next run)', now: januaryRun, lifetime: 90, age: 29, renew: true, reason: /enters its last third \(2026-02-15T03:05:00.000Z\)/ },
  { name: 'renews a 90-day certificate with 40 days left', now: januaryRun, lifetime: 90, age: 50, renew: true, reason: /enters its last third \(2026-01-25T03:05:00.000Z\) before the next run \(2026-02-15T03:05:00.000Z\)/ },
  { name: 'renews a 90-day certificate with 1 day left', now: januaryRun, lifetime: 90, age: 89, renew: true, reason: /enters its last third/ },
  { name: 'skips a 64-day certificate issued at this run', now: januaryRun, lifetime: 64, age: 0, renew: false, reason: /renews after 2026-02-26T19:05:00.000Z/ },
  { name: 'skips a 64-day certificate 11 days old (last third starts 16 hours after the next run)', now: januaryRun, lifetime: 64, age: 11, renew: false, reason: /renews after 2026-02-15T19:05:00.000Z/ },
  { name: 'renews a 64-day certificate 12 days old (last third starts 8 hours before the next run)', now: januaryRun, lifetime: 64, age: 12, renew: true, reason: /enters its last third \(2026-02-14T19:05:00.000Z\)/ },
  { name: 'renews a 64-day certificate issued at the previous monthly run', now: januaryRun, lifetime: 64, age: 31, renew: true, reason: /enters its last third/ },
  { name: 'renews a 45-day certificate issued at the previous monthly run', now: januaryRun, lifetime: 45, age: 31, renew: true, reason: /enters its last third/ },
  { name: 'does not re-order a 45-day certificate issued at this run, though due by the next run', now: januaryRun, lifetime: 45, age: 0, renew: false, reason: /in this schedule period: renews at the next run/ },
  { name: 'does not re-order a 45-day certificate a manual run issued the day before this run', now: januaryRun, lifetime: 45, age: 1, renew: false, reason: /in this schedule period/ },
  { name: 'renews a 45-day certificate issued two days before this run when the month has 31 days', now: januaryRun, lifetime: 45, age: 2, renew: true, reason: /enters its last third \(2026-02-12T03:05:00.000Z\)/ },
  { name: 'skips a 45-day certificate issued at this run when the month has 28 days', now: februaryRun, lifetime: 45, age: 0, renew: false, reason: /renews after 2026-03-17T03:05:00.000Z/ },
  { name: 'does not re-order a 6-day certificate issued at this run', now: januaryRun, lifetime: 6, age: 0, renew: false, reason: /renews after 2026-01-19T03:05:00.000Z/ },
  { name: 'leaves a 6-day certificate two days old to the check run before its last third (the monthly schedule is too sparse for it)', now: januaryRun, lifetime: 6, age: 2, renew: false, reason: /renews after 2026-01-17T03:05:00.000Z \(its lifetime is too short for the schedule: the check runs renew it\)/ },
  { name: 'renews a 6-day certificate entering its last third before the next daily check run', now: januaryRun, lifetime: 6, age: 4, renew: true, reason: /enters its last third \(2026-01-15T03:05:00.000Z\) before the next check run \(2026-01-15T04:35:00.000Z\)/ },
  { name: 'skips a 90-day certificate 5 days old at a manual run mid-month', now: manualRun, lifetime: 90, age: 5, renew: false, reason: /renews after 2026-03-16T12:00:00.000Z/ },
  { name: 'skips a 90-day certificate 34 days old at a manual run mid-month', now: manualRun, lifetime: 90, age: 34, renew: false, reason: /renews after 2026-02-15T12:00:00.000Z/ },
  { name: 'renews a 90-day certificate 35 days old at a manual run mid-month', now: manualRun, lifetime: 90, age: 35, renew: true, reason: /enters its last third \(2026-02-14T12:00:00.000Z\)/ },
];

for (const { name, now, lifetime, age, renew, reason } of byAge) {
  test(name, () => {
    const stored = certificate(lifetime, age, now);

    const decision = decideRenewal(input(now, stored));

    assert.equal(decision.renew, renew, decision.reason);
    assert.match(decision.reason, reason);
    if (!decision.renew) assert.deepEqual('renewAt' in decision && decision.renewAt, renewalPoint(stored.notBefore, stored.notAfter));
  });
}

const fresh = certificate(90, 0, januaryRun);
const byState: { name: string; change: Partial<RenewalInput>; reason: RegExp }[] = [
  { name: 'renews a fresh certificate when forced', change: { force: true }, reason: /^forced$/ },
  { name: 'renews when there is no certificate', change: { certificate: null }, reason: /^no certificate$/ },
  { name: 'renews a certificate for another key', change: { keySha256: 'b'.repeat(64) }, reason: /does not match the domain key/ },
  { name: 'renews when there is no usable domain key', change: { keySha256: null }, reason: /does not match the domain key/ },
  { name: 'renews when a name was added to the configuration', change: { names: [...names, 'shop.a.test'] }, reason: /names changed \(certificate: a.test www.a.test; configured: a.test shop.a.test www.a.test\)/ },
  { name: 'renews when a name was removed from the configuration', change: { names: ['a.test'] }, reason: /names changed/ },
  { name: 'renews an expired certificate', change: { now: fresh.notAfter, nextRunAt: nextRunAfter(monthly, fresh.notAfter) }, reason: /expired on 2026-04-15T03:05:00.000Z/ },
  { name: 'renews a certificate with a problem', change: { problem: 'domain.crt does not match the digest in status.json' }, reason: /not trustworthy: domain.crt does not match the digest/ },
];

for (const { name, change, reason } of byState) {
  test(name, () => {
    const decisionInput = input(januaryRun, fresh, change);

    const decision = decideRenewal(decisionInput);

    assert.equal(decision.renew, true);
    assert.match(decision.reason, reason);
  });
}

// Clock skew: a certificate that starts slightly after this clock's now is this period's (the CA's
// clock is ahead); one that starts further ahead than clocks differ says this clock is wrong, and
// ordering again would bring one that looks just the same: no order, a failure that says so.
const skewCases: { name: string; now: Date; confirmed?: boolean; renew: boolean; clock: boolean; reason: RegExp }[] = [
  { name: 'a certificate starting 5 minutes after this clock is fresh, not renewed', now: new Date(fresh.notBefore.getTime() - 5 * 60_000), renew: false, clock: false, reason: /^valid until 2026-04-15T03:05:00.000Z/ },
  { name: 'a certificate starting 59 minutes after this clock is fresh, not renewed', now: new Date(fresh.notBefore.getTime() - 59 * 60_000), renew: false, clock: false, reason: /^valid until 2026-04-15T03:05:00.000Z/ },
  { name: 'a certificate starting 2 hours after a clock that agrees with the CA\'s is itself wrong: renewed', now: new Date(fresh.notBefore.getTime() - 2 * HOUR), confirmed: true, renew: true, clock: false, reason: /^the stored certificate is not valid before 2026-01-15T03:05:00\.000Z, 120 min from now by a clock that agrees with the CA's: not trustworthy$/ },
  { name: 'a certificate starting 2 hours after this clock is a clock problem, not an order', now: new Date(fresh.notBefore.getTime() - 2 * HOUR), renew: false, clock: true, reason: /^the stored certificate is not valid before 2026-01-15T03:05:00\.000Z, 120 min after this run's clock \(more than the 60 min allowed for clock skew\): is this clock behind\?/ },
];
for (const { name, now, confirmed, renew, clock, reason } of skewCases) {
  test(`clock skew: ${name}`, () => {
    const decision = decideRenewal(input(now, fresh, { clockConfirmed: confirmed ?? false }));

    assert.equal(decision.renew, renew, decision.reason);
    assert.equal('clockProblem' in decision, clock);
    assert.match(decision.reason, reason);
  });
}

test('skips a fresh certificate whose configured names are in another order', () => {
  const decisionInput = input(januaryRun, fresh, { names: ['www.a.test', 'a.test'] });

  const decision = decideRenewal(decisionInput);

  assert.equal(decision.renew, false);
});

test('renews a 45-day certificate issued at the previous monthly run, at every run of a year', () => {
  const runs = monthlyRuns(januaryRun, 13);

  const decisions = runs.slice(1).map((run, i) => decideRenewal(input(run, certificateIssuedAt(runs[i] as Date, 45))));

  assert.deepEqual(decisions.map((decision) => decision.renew), decisions.map(() => true));
});

test('keeps a 45-day certificate valid at every monthly run for three years', () => {
  const runs = monthlyRuns(januaryRun, 37);
  let held = certificateIssuedAt(januaryRun, 45);
  const expiredAt: string[] = [];

  for (const [i, run] of runs.entries()) {
    if (i > 0 && run >= held.notAfter) expiredAt.push(run.toISOString());
    if (decideRenewal(input(run, held)).renew) held = certificateIssuedAt(run, 45);
  }

  assert.deepEqual(expiredAt, []);
});

const scheduleWarnings: { name: string; lifetime: number; checkPeriodDays: number; lapseRisk: boolean | null; warning?: RegExp }[] = [
  { name: 'says 6-day certificates are renewed by the daily check runs, not the monthly schedule', lifetime: 6, checkPeriodDays: 1, lapseRisk: false, warning: /^6-day certificates are too short-lived for the renewal schedule \(runs 31 days apart\): the check runs renew them instead, up to 24 hours apart/ },
  { name: 'warns of a lapse risk when even the check runs leave a 6-day certificate less than a quarter', lifetime: 6, checkPeriodDays: 5, lapseRisk: true, warning: /^6-day certificates outlast too few runs: the runs come up to 5 days apart, which leaves less than a quarter of the lifetime; run the checks twice daily \(stack parameter checkFrequency=twice-daily\)/ },
  { name: 'does not warn about 45-day certificates and a monthly schedule (14 days left at the next run)', lifetime: 45, checkPeriodDays: 1, lapseRisk: null },
  { name: 'does not warn about 64-day certificates and a monthly schedule', lifetime: 64, checkPeriodDays: 1, lapseRisk: null },
  { name: 'does not warn about 90-day certificates and a monthly schedule', lifetime: 90, checkPeriodDays: 1, lapseRisk: null },
];

for (const { name, lifetime, checkPeriodDays, lapseRisk, warning } of scheduleWarnings) {
  test(name, () => {
    const issued = certificateIssuedAt(januaryRun, lifetime);

    const result = scheduleWarning({ certificate: issued, previousRunAt: januaryRun, nextRunAt: nextRunAfter(monthly, januaryRun), checkPeriodMs: checkPeriodDays * DAY });

    if (lapseRisk === null) assert.equal(result, null);
    else {
      assert.equal(result?.lapseRisk, lapseRisk);
      assert.match(result?.warning ?? '', warning as RegExp);
    }
  });
}

/** A renewal window as status.json keeps it, with its selected point `selectedAt`. */
function window(selectedAt: Date, explanationUrl?: string): StoredRenewalInfo {
  return { certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', windowStart: new Date(selectedAt.getTime() - HOUR).toISOString(), windowEnd: new Date(selectedAt.getTime() + HOUR).toISOString(), selectedAt: selectedAt.toISOString(), nextFetchAt: new Date(januaryRun.getTime() + 6 * HOUR).toISOString(), ...(explanationUrl ? { explanationUrl } : {}) };
}

const byWindow: { name: string; stored: Certificate; renewalInfo: StoredRenewalInfo; renew: boolean; reason: RegExp }[] = [
  { name: 'renews a certificate issued at this run when the CA moves its window to now (a revocation), naming the explanation', stored: fresh, renewalInfo: window(januaryRun, 'https://ca.test/incident'), renew: true, reason: /^the CA's renewal window \(2026-01-15T02:05:00.000Z to 2026-01-15T04:05:00.000Z\) puts its renewal at 2026-01-15T03:05:00.000Z, before the next run \(2026-01-15T04:35:00.000Z\); the CA explains: https:\/\/ca.test\/incident$/ },
  { name: 'renews when the point chosen in the window falls before the next check run', stored: fresh, renewalInfo: window(new Date('2026-01-15T04:00:00Z')), renew: true, reason: /puts its renewal at 2026-01-15T04:00:00.000Z, before the next run/ },
  { name: 'does not renew when the point chosen in the window falls after the next check run', stored: fresh, renewalInfo: window(new Date('2026-01-15T05:00:00Z')), renew: false, reason: /^the CA's renewal window .+ puts its renewal at 2026-01-15T05:00:00.000Z: a check run renews it then$/ },
  { name: 'leaves a 45-day certificate the window renewed two days ago to the window, though the schedule rule would order it again', stored: certificate(45, 2, januaryRun), renewalInfo: window(new Date('2026-02-11T00:00:00Z')), renew: false, reason: /a check run renews it then/ },
  { name: 'renews by the schedule rule when the window lies later than it', stored: certificate(90, 50, januaryRun), renewalInfo: window(new Date('2026-03-01T00:00:00Z')), renew: true, reason: /enters its last third/ },
];

for (const { name, stored, renewalInfo, renew, reason } of byWindow) {
  test(`ARI: ${name}`, () => {
    const decision = decideRenewal(input(januaryRun, stored, { renewalInfo }));

    assert.equal(decision.renew, renew, decision.reason);
    assert.match(decision.reason, reason);
  });
}

// 45 days is too short for this: two thirds of it (30 days) is less than a 31-day month.
for (const lifetime of [64, 90]) {
  test(`keeps a ${lifetime}-day certificate out of its last third at every monthly run for three years`, () => {
    const runs = monthlyRuns(januaryRun, 37);
    let held = certificateIssuedAt(januaryRun, lifetime);
    const renewedAt: Date[] = [];

    for (const [i, run] of runs.entries()) {
      const nextRun = runs[i + 1];
      if (!nextRun) break;
      if (i > 0) {
        assert.ok(run < held.notAfter, `expired before the run of ${run.toISOString()}`);
        assert.ok(run < renewalPoint(held.notBefore, held.notAfter), `in its last third at the run of ${run.toISOString()}`);
      }
      const decision = decideRenewal(input(run, held));
      if (decision.renew) {
        held = certificateIssuedAt(run, lifetime);
        renewedAt.push(run);
      }
      assert.ok(nextRun < held.notAfter, `expires before the run of ${nextRun.toISOString()}`);
      assert.ok(nextRun < renewalPoint(held.notBefore, held.notAfter), `enters its last third before the run of ${nextRun.toISOString()}`);
    }

    assert.ok(renewedAt.length > 0);
    const gaps = renewedAt.slice(1).map((date, i) => (date.getTime() - (renewedAt[i] as Date).getTime()) / DAY);
    assert.ok(gaps.every((days) => days >= 28), `renewed less than 28 days after the previous renewal: ${gaps.join(', ')}`);
  });
}

const replacements: { name: string; stored: Certificate | null; storedProblem: string | null; issuedNotBefore: Date; refused: RegExp | null }[] = [
  { name: 'refuses to replace a good certificate with an older one', stored: fresh, storedProblem: null, issuedNotBefore: new Date(fresh.notBefore.getTime() - 1000), refused: /new certificate is older \(notBefore 2026-01-15T03:04:59.000Z\) than the stored one \(2026-01-15T03:05:00.000Z\)/ },
  { name: 'replaces a good certificate with one issued at the same time', stored: fresh, storedProblem: null, issuedNotBefore: fresh.notBefore, refused: null },
  { name: 'replaces a good certificate with a newer one, whatever its lifetime', stored: fresh, storedProblem: null, issuedNotBefore: new Date(fresh.notBefore.getTime() + DAY), refused: null },
  { name: 'replaces a missing certificate', stored: null, storedProblem: null, issuedNotBefore: januaryRun, refused: null },
  { name: 'replaces an untrustworthy certificate with an older one', stored: fresh, storedProblem: 'broken chain', issuedNotBefore: new Date(januaryRun.getTime() - DAY), refused: null },
  { name: 'replaces a certificate for another key than the stored one with an older one', stored: { ...fresh, publicKeySha256: 'b'.repeat(64) }, storedProblem: null, issuedNotBefore: new Date(januaryRun.getTime() - DAY), refused: null },
  { name: 'replaces a certificate for other names with an older one', stored: { ...fresh, names: ['a.test'] }, storedProblem: null, issuedNotBefore: new Date(januaryRun.getTime() - DAY), refused: null },
  { name: 'replaces an expired certificate', stored: certificate(90, 90, januaryRun), storedProblem: null, issuedNotBefore: new Date(januaryRun.getTime() - 100 * DAY), refused: null },
];
// A renewal with a new key (the default) is judged against the stored pair, not the new key.

for (const { name, stored, storedProblem, issuedNotBefore, refused } of replacements) {
  test(name, () => {
    const args = { stored, storedProblem, issued: { notBefore: issuedNotBefore }, names, storedKeySha256: keySha256, now: januaryRun };

    const problem = replacementProblem(args);

    if (refused) assert.match(problem ?? '', refused);
    else assert.equal(problem, null);
  });
}

/**
 * A year of the deployed cadence: the monthly schedule plus the daily check run at 04:35, which
 * decides against the monthly schedule. Returns the issue dates; asserts the certificate never lapses.
 */
function simulateWithDailyRuns(lifetime: number, schedule: Schedule, checks = daily): Date[] {
  return simulateServed(lifetime, schedule, checks).issued;
}

/**
 * The same year, returning also the least fraction of its lifetime the served certificate ever has
 * left: the old one is served until the hosts install the new one, within the hour after the run.
 */
function simulateServed(lifetime: number, schedule: Schedule, checks = daily): { issued: Date[]; lowestFractionLeft: number } {
  const end = new Date(januaryRun.getTime() + 365 * DAY);
  let held = certificateIssuedAt(new Date(januaryRun.getTime() - 2 * DAY), lifetime);
  const issued: Date[] = [];
  let lowestFractionLeft = 1;
  for (let run = januaryRun; run < end; run = new Date(Math.min(nextRunAfter(schedule, run).getTime(), nextRunAfter(checks, run).getTime()))) {
    assert.ok(run < held.notAfter, `${lifetime}-day certificate lapsed before the run of ${run.toISOString()}`);
    const decision = decideRenewal({ ...input(run, held), nextRunAt: nextRunAfter(schedule, run), nextCheckAt: earliest(nextRunAfter(schedule, run), nextRunAfter(checks, run)), previousRunAt: previousRunAtOrBefore(schedule, run) });
    const servedUntil = decision.renew ? run.getTime() + 3_600_000 : run.getTime();
    lowestFractionLeft = Math.min(lowestFractionLeft, (held.notAfter.getTime() - servedUntil) / (held.notAfter.getTime() - held.notBefore.getTime()));
    if (decision.renew) {
      held = certificateIssuedAt(new Date(run.getTime() - 3_600_000), lifetime); // CAs backdate notBefore by an hour
      issued.push(run);
    }
  }
  return { issued, lowestFractionLeft };
}

// The served-lifetime alarm's default (a quarter, serverless.yml servedLifetimeAlarmFraction) must
// stay silent while everything works. A third would not: a 45-day certificate, renewed monthly,
// is served for about a day each month with less than a third left, before the run replaces it.
const servedCases: { lifetime: number; lowest: [number, number] }[] = [
  { lifetime: 90, lowest: [1 / 3, 1] },
  { lifetime: 6, lowest: [0.25, 1 / 3 + 0.01] },
  { lifetime: 64, lowest: [1 / 3, 1] },
  { lifetime: 45, lowest: [0.25, 1 / 3] },
];
for (const { lifetime, lowest } of servedCases) {
  test(`with everything working, a ${lifetime}-day certificate is never served with less than a quarter of its lifetime left`, () => {
    const { lowestFractionLeft } = simulateServed(lifetime, monthly);

    assert.ok(lowestFractionLeft >= lowest[0] && lowestFractionLeft < lowest[1], `lowest fraction left ${lowestFractionLeft.toFixed(3)}`);
  });
}

test('with the daily check run, a 45-day certificate is issued once a month, never twice, and never lapses', () => {
  const issued = simulateWithDailyRuns(45, monthly);

  assert.equal(issued.length, 12);
  assert.ok(issued.every((date) => date.getUTCDate() === 15 && date.getUTCHours() === 3), `issued off the monthly run: ${issued.map((d) => d.toISOString()).join(' ')}`);
});

test('with the daily check run, a 90-day certificate is renewed at monthly runs only, at most every month, and never lapses', () => {
  const issued = simulateWithDailyRuns(90, monthly);

  assert.ok(issued.length >= 6 && issued.length <= 12, `${issued.length} issuances`);
  assert.ok(issued.every((date) => date.getUTCDate() === 15 && date.getUTCHours() === 3));
});

test('with the daily check run, a 6-day certificate is renewed by the check runs every 3 to 4 days, never more often', () => {
  const issued = simulateWithDailyRuns(6, monthly);

  const gaps = issued.slice(1).map((date, i) => (date.getTime() - (issued[i] as Date).getTime()) / DAY);
  assert.ok(gaps.every((days) => days >= 3 && days <= 4), `gaps between issuances: ${gaps.join(', ')}`);
});

test('with the check run twice daily, a 6-day certificate is renewed every 3.5 to 4 days, always with a third of its lifetime left', () => {
  const twiceDaily = parseSchedule('cron(35 4,16 * * ? *)');

  const { issued, lowestFractionLeft } = simulateServed(6, monthly, twiceDaily);

  const gaps = issued.slice(1).map((date, i) => (date.getTime() - (issued[i] as Date).getTime()) / DAY);
  assert.ok(gaps.every((days) => days >= 3.5 && days <= 4), `gaps between issuances: ${gaps.join(', ')}`);
  assert.ok(lowestFractionLeft >= 0.3, `lowest fraction left ${lowestFractionLeft.toFixed(3)}`);
});

/**
 * A year of monthly and daily check runs with a CA that offers ARI: Let's Encrypt's window is
 * around two thirds of the lifetime (half of it under ten days), a window of 2% of the lifetime,
 * and the point in it is drawn by a seeded generator. Returns the issue dates and the least
 * fraction of its lifetime a served certificate had left.
 */
function simulateWithWindows(lifetime: number): { issued: Date[]; lowestFractionLeft: number } {
  const end = new Date(januaryRun.getTime() + 365 * DAY);
  let held = certificateIssuedAt(new Date(januaryRun.getTime() - 2 * DAY), lifetime);
  let seed = 7;
  const draw = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  let stored: StoredRenewalInfo | null = null;
  const issued: Date[] = [];
  let lowestFractionLeft = 1;
  for (let run = januaryRun; run < end; run = nextCheck(monthly, run)) {
    assert.ok(run < held.notAfter, `${lifetime}-day certificate lapsed before the run of ${run.toISOString()}`);
    const span = held.notAfter.getTime() - held.notBefore.getTime();
    const center = held.notBefore.getTime() + span * (lifetime < 10 ? 1 / 2 : 2 / 3);
    const [windowStart, windowEnd] = [new Date(center - span / 100), new Date(center + span / 100)];
    if (!stored || stored.windowStart !== windowStart.toISOString()) {
      stored = { certId: held.notBefore.toISOString(), windowStart: windowStart.toISOString(), windowEnd: windowEnd.toISOString(), selectedAt: new Date(windowStart.getTime() + draw() * (windowEnd.getTime() - windowStart.getTime())).toISOString(), nextFetchAt: run.toISOString() };
    }
    const decision = decideRenewal(input(run, held, { renewalInfo: stored }));
    const servedUntil = decision.renew ? run.getTime() + HOUR : run.getTime();
    lowestFractionLeft = Math.min(lowestFractionLeft, (held.notAfter.getTime() - servedUntil) / span);
    if (decision.renew) {
      held = certificateIssuedAt(new Date(run.getTime() - HOUR), lifetime);
      issued.push(run);
    }
  }
  return { issued, lowestFractionLeft };
}

const windowCases: { lifetime: number; orders: [number, number]; minGapDays: number }[] = [
  { lifetime: 90, orders: [6, 7], minGapDays: 58 },
  { lifetime: 64, orders: [8, 9], minGapDays: 41 },
  { lifetime: 45, orders: [12, 13], minGapDays: 28 },
  { lifetime: 6, orders: [150, 185], minGapDays: 2 },
];
for (const { lifetime, orders, minGapDays } of windowCases) {
  test(`with ARI windows, a ${lifetime}-day certificate is renewed once per window, never ordered twice, with a third of its lifetime left`, () => {
    const { issued, lowestFractionLeft } = simulateWithWindows(lifetime);

    const gaps = issued.slice(1).map((date, i) => (date.getTime() - (issued[i] as Date).getTime()) / DAY);
    assert.ok(issued.length >= orders[0] && issued.length <= orders[1], `${issued.length} orders in a year`);
    assert.ok(gaps.every((days) => days >= minGapDays), `gaps between orders: ${gaps.map((days) => days.toFixed(1)).join(', ')}`);
    assert.ok(lowestFractionLeft >= 1 / 3 - 0.02, `lowest fraction left ${lowestFractionLeft.toFixed(3)}`);
  });
}

test('puts the renewal point two thirds into the lifetime', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');

  const point = renewalPoint(notBefore, new Date(notBefore.getTime() + 90 * DAY));

  assert.deepEqual(point, new Date('2026-03-02T00:00:00Z'));
});

/** Returns `count` consecutive runs of the monthly schedule, starting at `first`. */
function monthlyRuns(first: Date, count: number): Date[] {
  const runs = [first];
  while (runs.length < count) runs.push(nextRunAfter(monthly, runs[runs.length - 1] as Date));
  return runs;
}

/** Returns a certificate issued at `at` (notBefore) and valid for `lifetimeDays`. */
function certificateIssuedAt(at: Date, lifetimeDays: number): Certificate {
  return certificate(lifetimeDays, 0, at);
}
