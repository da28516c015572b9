/**
 * The conversion values a device should report now (docs/skan.md): from its recorded events and
 * revenue since install, against the app's current schema. What `POST /api/track/skan` answers,
 * and what the app passes to `updatePostbackConversionValue`.
 */
import type { Sql } from '../../db/client.ts';
import { convert, type FxRates } from '../analytics/money.ts';
import type { SchemaRevision } from './schema-store.ts';
import { coarseRank, type CoarseValue, type Condition } from './schemas.ts';

const DAY_MS = 86_400_000;
/** Last day (since first launch) of each window: days 0–2, 3–7, 8–35. */
const WINDOW_LAST_DAY = [2, 7, 35] as const;

export type DeviceValues = {
  window: number | null;
  window_ends_at: string | null;
  fine_value: number | null;
  coarse_value: CoarseValue | null;
  lock_window: boolean;
  schema_revision: number;
};

/** The window open `now` for an install at `installedAt`, or null after the last. */
export function windowAt(installedAt: Date, now: Date): number | null {
  const day = Math.floor((now.getTime() - installedAt.getTime()) / DAY_MS);
  const w = WINDOW_LAST_DAY.findIndex((last) => Math.max(day, 0) <= last);
  return w === -1 ? null : w;
}

type Totals = Map<string, { count: number; revenue: number }>;

/** An event condition holds when the event happened (install always has) and its total revenue is within the bounds. */
function holds(c: Condition, totals: Totals): boolean {
  const t = totals.get(c.event) ?? (c.event === 'install' ? { count: 1, revenue: 0 } : undefined);
  if (!t || t.count === 0) return false;
  if (c.revenueMin !== undefined && t.revenue < c.revenueMin) return false;
  if (c.revenueMax !== undefined && t.revenue > c.revenueMax) return false;
  return true;
}

/** Pure: the values for a device's event totals since install. */
export function valuesFor(
  rev: SchemaRevision | null,
  totals: Totals,
  installedAt: Date,
  now: Date,
): DeviceValues {
  const window = windowAt(installedAt, now);
  const s = rev?.schema;
  const base = {
    window,
    window_ends_at:
      window === null
        ? null
        : new Date(installedAt.getTime() + (WINDOW_LAST_DAY[window] + 1) * DAY_MS).toISOString(),
    schema_revision: rev?.revision ?? 0,
  };
  if (!s || window === null)
    return { ...base, fine_value: null, coarse_value: null, lock_window: false };
  // The highest matching value wins (docs/spec/api.md).
  const fine =
    window === 0
      ? s.fine
          .filter((r) => holds(r.when, totals))
          .reduce<number | null>((m, r) => (m === null || r.value > m ? r.value : m), null)
      : null;
  const coarse = s.coarse
    .filter((r) => r.window === window && holds(r.when, totals))
    .reduce<CoarseValue | null>(
      (m, r) => (m === null || coarseRank(r.value) > coarseRank(m) ? r.value : m),
      null,
    );
  const lock = s.lock.some((r) => r.window === window && holds(r.when, totals));
  return { ...base, fine_value: fine, coarse_value: coarse, lock_window: lock };
}

/**
 * Event counts and revenue totals of a device (its events are those since its install), revenue in the app's currency
 * (another currency converted with FX_RATES; without a rate its revenue is left out, never guessed).
 */
export async function deviceTotals(
  sql: Sql,
  devicePk: string,
  appCurrency: string,
  fx: FxRates,
): Promise<Totals> {
  const rows = await sql<
    { event_name: string; currency: string | null; n: number; revenue: string | null }[]
  >`
    select event_name, currency, count(*)::int as n, sum(revenue)::text as revenue
    from events
    where device_pk = ${devicePk} and not is_control
    group by event_name, currency`;
  const totals: Totals = new Map();
  for (const r of rows) {
    const t = totals.get(r.event_name) ?? { count: 0, revenue: 0 };
    t.count += r.n;
    if (r.revenue !== null) {
      const amount = convert(Number(r.revenue), r.currency ?? appCurrency, appCurrency, fx);
      if (amount !== null) t.revenue += amount;
    }
    totals.set(r.event_name, t);
  }
  return totals;
}
