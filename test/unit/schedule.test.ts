import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextRunAfter, parseSchedule, previousRunAtOrBefore } from '../../functions/core/schedule.js';

const nextRuns: { name: string; expression: string; after: string; next: string }[] = [
  { name: 'runs monthly on the 15th later that day when asked just before 03:05', expression: 'cron(5 3 15 * ? *)', after: '2026-01-15T03:04:59.999Z', next: '2026-01-15T03:05:00.000Z' },
  { name: 'runs monthly on the 15th of the next month when asked exactly at 03:05', expression: 'cron(5 3 15 * ? *)', after: '2026-01-15T03:05:00.000Z', next: '2026-02-15T03:05:00.000Z' },
  { name: 'runs monthly on the 15th of the next month when asked just after 03:05', expression: 'cron(5 3 15 * ? *)', after: '2026-01-15T03:05:00.001Z', next: '2026-02-15T03:05:00.000Z' },
  { name: 'runs monthly on the 15th when asked at the start of the month', expression: 'cron(5 3 15 * ? *)', after: '2026-01-01T00:00:00.000Z', next: '2026-01-15T03:05:00.000Z' },
  { name: 'runs monthly on the 15th when asked the evening before', expression: 'cron(5 3 15 * ? *)', after: '2026-01-14T23:59:00.000Z', next: '2026-01-15T03:05:00.000Z' },
  { name: 'runs monthly from the December run to January of the next year', expression: 'cron(5 3 15 * ? *)', after: '2026-12-15T03:05:00.000Z', next: '2027-01-15T03:05:00.000Z' },
  { name: 'runs monthly from the end of December to January of the next year', expression: 'cron(5 3 15 * ? *)', after: '2026-12-31T23:59:59.999Z', next: '2027-01-15T03:05:00.000Z' },
  { name: 'runs monthly from mid-February to mid-March', expression: 'cron(5 3 15 * ? *)', after: '2026-02-20T12:00:00.000Z', next: '2026-03-15T03:05:00.000Z' },
  { name: 'runs a daily rate one day after', expression: 'rate(1 day)', after: '2026-01-15T03:05:00.000Z', next: '2026-01-16T03:05:00.000Z' },
  { name: 'runs a rate of 12 hours twelve hours after', expression: 'rate(12 hours)', after: '2026-01-15T03:05:00.000Z', next: '2026-01-15T15:05:00.000Z' },
  { name: 'runs a rate of 5 minutes five minutes after', expression: 'rate(5 minutes)', after: '2026-01-15T03:05:00.000Z', next: '2026-01-15T03:10:00.000Z' },
  { name: 'runs on weekdays at noon later on a Wednesday morning', expression: 'cron(0 12 ? * MON-FRI *)', after: '2026-01-14T11:59:00.000Z', next: '2026-01-14T12:00:00.000Z' },
  { name: 'runs on weekdays at noon on Monday after a Friday run', expression: 'cron(0 12 ? * MON-FRI *)', after: '2026-01-16T12:00:00.000Z', next: '2026-01-19T12:00:00.000Z' },
  { name: 'runs on weekdays at noon on Monday when asked on Saturday', expression: 'cron(0 12 ? * MON-FRI *)', after: '2026-01-17T08:00:00.000Z', next: '2026-01-19T12:00:00.000Z' },
  { name: 'reads weekday numbers 2-6 as Monday to Friday', expression: 'cron(0 12 ? * 2-6 *)', after: '2026-01-16T12:00:00.000Z', next: '2026-01-19T12:00:00.000Z' },
  { name: 'runs on the last day of January', expression: 'cron(0 0 L * ? *)', after: '2026-01-15T00:00:00.000Z', next: '2026-01-31T00:00:00.000Z' },
  { name: 'runs on the last day of February after the January run', expression: 'cron(0 0 L * ? *)', after: '2026-01-31T00:00:00.000Z', next: '2026-02-28T00:00:00.000Z' },
  { name: 'runs on 29 February in a leap year', expression: 'cron(0 0 L * ? *)', after: '2028-02-01T00:00:00.000Z', next: '2028-02-29T00:00:00.000Z' },
  { name: 'runs on the last day of January after the December run', expression: 'cron(0 0 L * ? *)', after: '2026-12-31T00:00:00.000Z', next: '2027-01-31T00:00:00.000Z' },
  { name: 'runs every 15 minutes at the next quarter hour', expression: 'cron(0/15 * * * ? *)', after: '2026-01-15T03:05:00.000Z', next: '2026-01-15T03:15:00.000Z' },
  { name: 'runs on named months only', expression: 'cron(0 6 1 JAN,JUL ? *)', after: '2026-01-01T06:00:00.000Z', next: '2026-07-01T06:00:00.000Z' },
  { name: 'runs in a listed year only', expression: 'cron(0 6 1 1 ? 2027)', after: '2026-03-01T00:00:00.000Z', next: '2027-01-01T06:00:00.000Z' },
  { name: 'ignores spaces around the expression', expression: '  cron(5 3 15 * ? *)  ', after: '2026-01-01T00:00:00.000Z', next: '2026-01-15T03:05:00.000Z' },
];

for (const { name, expression, after, next } of nextRuns) {
  test(name, () => {
    const schedule = parseSchedule(expression);

    const run = nextRunAfter(schedule, new Date(after));

    assert.equal(run.toISOString(), next);
  });
}

const malformed: { name: string; expression: string; message: string }[] = [
  { name: 'refuses a cron with 5 fields', expression: 'cron(5 3 15 * ?)', message: 'cron needs 6 fields' },
  { name: 'refuses a cron with 7 fields', expression: 'cron(0 5 3 15 * ? *)', message: 'cron needs 6 fields' },
  { name: 'refuses a cron with both day fields "?"', expression: 'cron(5 3 ? * ? *)', message: 'exactly one of day-of-month and day-of-week must be "?"' },
  { name: 'refuses a cron with neither day field "?"', expression: 'cron(5 3 15 * MON *)', message: 'exactly one of day-of-month and day-of-week must be "?"' },
  { name: 'refuses minute 60', expression: 'cron(60 3 15 * ? *)', message: 'minutes "60": 60 is outside 0-59' },
  { name: 'refuses hour 24', expression: 'cron(5 24 15 * ? *)', message: 'hours "24": 24 is outside 0-23' },
  { name: 'refuses day-of-month 0', expression: 'cron(5 3 0 * ? *)', message: 'day-of-month "0": 0 is outside 1-31' },
  { name: 'refuses day-of-month 32', expression: 'cron(5 3 32 * ? *)', message: 'day-of-month "32": 32 is outside 1-31' },
  { name: 'refuses month 13', expression: 'cron(5 3 15 13 ? *)', message: 'month "13": 13 is outside 1-12' },
  { name: 'refuses day-of-week 8', expression: 'cron(5 3 ? * 8 *)', message: 'day-of-week "8": 8 is outside 1-7' },
  { name: 'refuses year 1969', expression: 'cron(5 3 15 * ? 1969)', message: 'year "1969": 1969 is outside 1970-2199' },
  { name: 'refuses an unknown month name', expression: 'cron(5 3 15 FOO ? *)', message: 'month "FOO": "FOO" is not a number or a name' },
  { name: 'refuses a backwards range', expression: 'cron(5 3 20-10 * ? *)', message: 'range 20-10 runs backwards' },
  { name: 'refuses a zero step', expression: 'cron(0/0 3 15 * ? *)', message: 'step "0" must be a positive integer' },
  { name: 'refuses a negative number', expression: 'cron(-1 3 15 * ? *)', message: 'minutes "-1"' },
  { name: 'refuses the unsupported nth-weekday syntax', expression: 'cron(5 3 ? * MON#1 *)', message: 'day-of-week "MON#1"' },
  { name: 'refuses a rate of zero', expression: 'rate(0 days)', message: 'rate must be at least 1' },
  { name: 'refuses a rate in weeks', expression: 'rate(1 week)', message: 'expected cron(...) or rate(...)' },
  { name: 'refuses a bare cron body', expression: '5 3 15 * ? *', message: 'expected cron(...) or rate(...)' },
  { name: 'refuses garbage', expression: 'every month, please', message: 'expected cron(...) or rate(...)' },
  { name: 'refuses an empty expression', expression: '', message: 'expected cron(...) or rate(...)' },
];

for (const { name, expression, message } of malformed) {
  test(name, () => {
    const parse = () => parseSchedule(expression);

    assert.throws(parse, (error: Error) => {
      assert.ok(error.message.includes(`schedule "${expression}"`), `message "${error.message}" does not name the expression`);
      assert.ok(error.message.includes(message), `message "${error.message}" does not include "${message}"`);
      return true;
    });
  });
}

test('refuses to search forever for a schedule that never fires again', () => {
  const schedule = parseSchedule('cron(0 0 1 1 ? 2020)');

  const search = () => nextRunAfter(schedule, new Date('2026-01-01T00:00:00Z'));

  assert.throws(search, /schedule "cron\(0 0 1 1 \? 2020\)" does not fire within 5 years after 2026-01-01T00:00:00.000Z/);
});

const previousRuns: { name: string; expression: string; at: string; previous: string }[] = [
  { name: 'finds the monthly run itself when asked at its exact time', expression: 'cron(5 3 15 * ? *)', at: '2026-01-15T03:05:00Z', previous: '2026-01-15T03:05:00.000Z' },
  { name: 'finds this month\'s run from later in the month', expression: 'cron(5 3 15 * ? *)', at: '2026-01-20T12:00:00Z', previous: '2026-01-15T03:05:00.000Z' },
  { name: 'finds last month\'s run from a minute before this month\'s', expression: 'cron(5 3 15 * ? *)', at: '2026-01-15T03:04:00Z', previous: '2025-12-15T03:05:00.000Z' },
  { name: 'finds the latest of several runs in a day', expression: 'cron(0 6,18 * * ? *)', at: '2026-03-01T20:00:00Z', previous: '2026-03-01T18:00:00.000Z' },
  { name: 'goes back one period for a rate', expression: 'rate(1 day)', at: '2026-03-01T20:00:00Z', previous: '2026-02-28T20:00:00.000Z' },
];

for (const { name, expression, at, previous } of previousRuns) {
  test(name, () => {
    const schedule = parseSchedule(expression);

    const found = previousRunAtOrBefore(schedule, new Date(at));

    assert.equal(found.toISOString(), previous);
  });
}

const strictness: { name: string; expression: string; message: RegExp }[] = [
  { name: 'refuses a range with three bounds', expression: 'cron(1-2-3 3 15 * ? *)', message: /range "1-2-3" must be FROM-TO/ },
  { name: 'refuses a plural unit for a rate of one, as EventBridge does', expression: 'rate(1 minutes)', message: /write "1 minute"/ },
  { name: 'refuses a singular unit for a rate above one, as EventBridge does', expression: 'rate(5 minute)', message: /write "5 minutes"/ },
];

for (const { name, expression, message } of strictness) {
  test(name, () => {
    assert.throws(() => parseSchedule(expression), message);
  });
}
