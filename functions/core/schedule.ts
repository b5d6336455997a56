/**
 * EventBridge schedule expressions (`cron(...)`, `rate(...)`) and the time of the next run.
 *
 * The renewal decision needs the next run to know whether a certificate would enter its last third
 * before then; reading the same expression the schedule uses keeps the two from drifting apart.
 * Times are UTC, as EventBridge evaluates them.
 */

export type Schedule =
  | { kind: 'rate'; everyMs: number; expression: string }
  | { kind: 'cron'; expression: string; minutes: Set<number>; hours: Set<number>; days: DaySpec; months: Set<number>; weekdays: WeekdaySpec; years: Set<number> | null };

type DaySpec = { any: true } | { any: false; days: Set<number>; last: boolean };
type WeekdaySpec = { any: true } | { any: false; days: Set<number> };

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const RATE_UNITS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const SEARCH_DAYS = 366 * 5;

/** Returns the parsed schedule, or throws an Error naming the part of the expression at fault. */
export function parseSchedule(expression: string): Schedule {
  const text = expression.trim();
  const rate = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/.exec(text);
  if (rate) {
    const count = Number(rate[1]);
    if (count < 1) throw new Error(`schedule "${expression}": rate must be at least 1`);
    const unit = (rate[2] as string).replace(/s$/, '');
    // EventBridge wants the singular for 1 and the plural otherwise.
    if ((count === 1) !== (rate[2] === unit)) throw new Error(`schedule "${expression}": write "${count} ${count === 1 ? unit : `${unit}s`}"`);
    return { kind: 'rate', everyMs: count * (RATE_UNITS[unit] as number), expression: text };
  }
  const cron = /^cron\((.*)\)$/.exec(text);
  if (!cron) throw new Error(`schedule "${expression}": expected cron(...) or rate(...)`);
  const fields = (cron[1] as string).trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`schedule "${expression}": cron needs 6 fields (minutes hours day-of-month month day-of-week year)`);
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) throw new Error(`schedule "${expression}": exactly one of day-of-month and day-of-week must be "?"`);
  const field = (name: string, value: string, lo: number, hi: number, names?: string[], offset = 1) => {
    try {
      return parseField(value, lo, hi, names, offset);
    } catch (error) {
      throw new Error(`schedule "${expression}": ${name} "${value}": ${(error as Error).message}`);
    }
  };
  let days: DaySpec = { any: true };
  if (dom !== '?' && dom !== '*') {
    const last = dom === 'L';
    days = { any: false, last, days: last ? new Set() : field('day-of-month', dom, 1, 31) };
  }
  let weekdays: WeekdaySpec = { any: true };
  if (dow !== '?' && dow !== '*') weekdays = { any: false, days: field('day-of-week', dow, 1, 7, WEEKDAYS) };
  return {
    kind: 'cron',
    expression: text,
    minutes: field('minutes', min, 0, 59),
    hours: field('hours', hour, 0, 23),
    days,
    months: field('month', month, 1, 12, MONTHS),
    weekdays,
    years: year === '*' ? null : field('year', year, 1970, 2199),
  };
}

function parseField(value: string, lo: number, hi: number, names?: string[], offset = 1): Set<number> {
  const result = new Set<number>();
  const parseValue = (text: string): number => {
    const upper = text.toUpperCase();
    const named = names?.indexOf(upper) ?? -1;
    if (named >= 0) return named + offset;
    if (!/^\d+$/.test(text)) throw new Error(`"${text}" is not a number${names ? ' or a name' : ''}`);
    const number = Number(text);
    if (number < lo || number > hi) throw new Error(`${number} is outside ${lo}-${hi}`);
    return number;
  };
  for (const part of value.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`step "${stepText}" must be a positive integer`);
    let start: number;
    let end: number;
    if (range === '*') {
      [start, end] = [lo, hi];
    } else if (range.includes('-')) {
      const bounds = range.split('-');
      if (bounds.length !== 2) throw new Error(`range "${range}" must be FROM-TO`);
      const [a, b] = bounds as [string, string];
      [start, end] = [parseValue(a), parseValue(b)];
      if (start > end) throw new Error(`range ${range} runs backwards`);
    } else {
      start = parseValue(range);
      end = stepText === undefined ? start : hi;
    }
    for (let v = start; v <= end; v += step) result.add(v);
  }
  return result;
}

/**
 * Returns the first time strictly after `after` at which the schedule fires. For `rate(...)`, whose
 * anchor is the deployment time, that is `after` plus one period: never later than the real run.
 */
export function nextRunAfter(schedule: Schedule, after: Date): Date {
  if (schedule.kind === 'rate') return new Date(after.getTime() + schedule.everyMs);
  const start = new Date(Date.UTC(after.getUTCFullYear(), after.getUTCMonth(), after.getUTCDate()));
  for (let day = 0; day < SEARCH_DAYS; day += 1) {
    const date = new Date(start.getTime() + day * 86_400_000);
    if (!dayMatches(schedule, date)) continue;
    for (const hour of [...schedule.hours].sort((a, b) => a - b)) {
      for (const minute of [...schedule.minutes].sort((a, b) => a - b)) {
        const candidate = new Date(date.getTime() + hour * 3_600_000 + minute * 60_000);
        if (candidate.getTime() > after.getTime()) return candidate;
      }
    }
  }
  throw new Error(`schedule "${schedule.expression}" does not fire within ${SEARCH_DAYS / 366} years after ${after.toISOString()}`);
}

/**
 * Returns the last time at or before `at` at which the schedule fired. For `rate(...)` that is `at`
 * minus one period: never earlier than the real last run.
 */
export function previousRunAtOrBefore(schedule: Schedule, at: Date): Date {
  if (schedule.kind === 'rate') return new Date(at.getTime() - schedule.everyMs);
  const start = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  const hours = [...schedule.hours].sort((a, b) => b - a);
  const minutes = [...schedule.minutes].sort((a, b) => b - a);
  for (let day = 0; day < SEARCH_DAYS; day += 1) {
    const date = new Date(start.getTime() - day * 86_400_000);
    if (!dayMatches(schedule, date)) continue;
    for (const hour of hours) {
      for (const minute of minutes) {
        const candidate = new Date(date.getTime() + hour * 3_600_000 + minute * 60_000);
        if (candidate.getTime() <= at.getTime()) return candidate;
      }
    }
  }
  throw new Error(`schedule "${schedule.expression}" did not fire within ${SEARCH_DAYS / 366} years before ${at.toISOString()}`);
}

function dayMatches(schedule: Extract<Schedule, { kind: 'cron' }>, date: Date): boolean {
  if (schedule.years && !schedule.years.has(date.getUTCFullYear())) return false;
  if (!schedule.months.has(date.getUTCMonth() + 1)) return false;
  const { days, weekdays } = schedule;
  if (!days.any) {
    const lastDay = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
    if (days.last ? date.getUTCDate() !== lastDay : !days.days.has(date.getUTCDate())) return false;
  }
  if (!weekdays.any && !weekdays.days.has(date.getUTCDay() + 1)) return false;
  return true;
}
