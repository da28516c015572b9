/** Reporting periods: inclusive ranges of calendar days (`YYYY-MM-DD`) in an app's time zone. */
import { validationError } from '../../http/errors.ts';

export type Period = { from: string; to: string };

export const MAX_PERIOD_DAYS = 400;
export const DEFAULT_PERIOD_DAYS = 7;

/**
 * Days a report may name (`from`, `to`, and so every day iterated): far beyond any data, and far
 * inside what Date and PostgreSQL's date handle (no year 0, no five-digit years).
 */
export const MIN_DAY = '2000-01-01';
export const MAX_DAY = '2999-12-31';
export const DAY_RANGE_MESSAGE = `must be a day from ${MIN_DAY} to ${MAX_DAY}`;
export const inDayRange = (d: string) => d >= MIN_DAY && d <= MAX_DAY;

const DAY_MS = 86_400_000;
/** Midnight UTC of a `YYYY-MM-DD` day; setUTCFullYear, since Date.UTC maps years 0–99 to 1900–1999. */
const toUtc = (d: string) =>
  new Date(0).setUTCFullYear(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10));
const fromUtc = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export const addDays = (day: string, n: number) => fromUtc(toUtc(day) + n * DAY_MS);
export const dayCount = (p: Period) => Math.round((toUtc(p.to) - toUtc(p.from)) / DAY_MS) + 1;

/** Today's calendar date in a time zone. */
export function todayIn(timezone: string, now: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
}

/** The requested period; defaults to the last 7 days ending today in the app's zone. */
export function resolvePeriod(
  q: { from?: string; to?: string },
  timezone: string,
  now: Date = new Date(),
): Period {
  const to = q.to ?? (q.from ? maxDay(q.from, todayIn(timezone, now)) : todayIn(timezone, now));
  for (const f of ['from', 'to'] as const)
    if (q[f] !== undefined && !inDayRange(q[f])) throw validationError(f, DAY_RANGE_MESSAGE);
  const from = q.from ?? addDays(to, -(DEFAULT_PERIOD_DAYS - 1));
  if (from > to) throw validationError('from', 'must not be after to');
  if (dayCount({ from, to }) > MAX_PERIOD_DAYS)
    throw validationError('to', `the period may span at most ${MAX_PERIOD_DAYS} days`);
  return { from, to };
}

const maxDay = (a: string, b: string) => (a > b ? a : b);

/** The same number of days right before the period. */
export function previousPeriod(p: Period): Period {
  return { from: addDays(p.from, -dayCount(p)), to: addDays(p.from, -1) };
}

/** Every day of the period, counted by integer days (never by comparing day strings). */
export function daysOf(p: Period): string[] {
  const n = dayCount(p);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(addDays(p.from, i));
  return out;
}
