/** Overview, stats and portfolio: rollup sums turned into KPIs. */
import { createHash } from 'node:crypto';
import type { Sql } from '../../db/client.ts';
import type { AppRow } from '../apps/queries.ts';
import {
  addSums,
  computeKpis,
  emptySums,
  hasData,
  METRICS,
  pickMetrics,
  type Kpis,
  type Metric,
  type Sums,
} from './definitions.ts';
import type { FxRates } from './money.ts';
import { daysOf, previousPeriod, resolvePeriod, type Period } from './period.ts';
import { countPayers, sumRollups, type Dimension, type Filters, type SumsRow } from './queries.ts';
import { foldFor } from './rollups.ts';

type Env = 'live' | 'sandbox';
type KeyedSums = { key: Record<string, string | null>; sums: Sums };

const keyString = (key: Record<string, string | null>) => JSON.stringify(key);

/** Merges the per-currency rows of each group; '' (no currency given) is the app's currency. */
function mergeByKey(
  rows: SumsRow[],
  appCurrency: (row: SumsRow) => string,
): Map<string, KeyedSums> {
  const out = new Map<string, KeyedSums>();
  for (const r of rows) {
    const k = keyString(r.key);
    let g = out.get(k);
    if (!g) out.set(k, (g = { key: r.key, sums: emptySums() }));
    const currency = r.currency || appCurrency(r);
    const revenue = r.sums.revenueByCurrency.get(r.currency);
    const s: Sums = {
      ...r.sums,
      revenueByCurrency: new Map(revenue === undefined ? [] : [[currency, revenue]]),
    };
    addSums(g.sums, s);
  }
  return out;
}

export async function overview(
  sql: Sql,
  fx: FxRates,
  app: AppRow,
  q: { from?: string; to?: string; environment: Env; filters: Filters },
) {
  const period = resolvePeriod(q, app.timezone);
  const prev = previousPeriod(period);
  const scope = (p: Period) => ({
    ranges: [{ appId: app.id, ...p }],
    environment: q.environment,
    filters: q.filters,
  });
  await foldFor(sql, [app.id]);
  const [rows, payersNow, payersPrev] = await Promise.all([
    sumRollups(sql, scope({ from: prev.from, to: period.to }), ['date']),
    countPayers(sql, scope(period), []),
    countPayers(sql, scope(prev), []),
  ]);
  const byDay = mergeByKey(rows, () => app.currency);
  const daily = new Map([...byDay.values()].map((g) => [g.key.date!, g.sums]));
  const total = (p: Period) =>
    daysOf(p).reduce((acc, d) => (daily.has(d) ? addSums(acc, daily.get(d)!) : acc), emptySums());
  const kpis = (s: Sums, payers: number) => computeKpis(s, payers, app.currency, fx);
  return {
    period: { ...period, timezone: app.timezone },
    kpis: kpis(total(period), payersNow[0]?.payers ?? 0),
    previousPeriod: kpis(total(prev), payersPrev[0]?.payers ?? 0),
    timeseries: daysOf(period).map((date) => {
      const s = daily.get(date) ?? emptySums();
      return { date, ...kpis(s, s.payerDays) };
    }),
  };
}

/** A group; `metrics()` computes its KPIs (only for the rows of the page asked for). */
export type StatsResult = {
  dimensions: Record<string, string | null>;
  installs: number;
  metrics: () => Partial<Kpis>;
};

/**
 * Every group of the period, sorted by the first dimension, then installs descending, then the
 * other dimensions (a total order, so a page boundary is a stable key).
 */
export async function stats(
  sql: Sql,
  fx: FxRates,
  app: AppRow,
  q: {
    from?: string;
    to?: string;
    environment: Env;
    filters: Filters;
    groupBy: Dimension[];
    metrics: Metric[];
  },
): Promise<{ period: Period; rows: StatsResult[] }> {
  const period = resolvePeriod(q, app.timezone);
  const scope = {
    ranges: [{ appId: app.id, ...period }],
    environment: q.environment,
    filters: q.filters,
  };
  // Grouped by day (and not by event name) every group is one day: its device-days are its paying users.
  const daily = q.groupBy.includes('date') && !q.groupBy.includes('eventName');
  await foldFor(sql, [app.id]);
  const [rows, payers] = await Promise.all([
    sumRollups(sql, scope, q.groupBy, MAX_STATS_ROWS),
    q.metrics.includes('payingUsers') && !daily
      ? countPayers(sql, scope, q.groupBy)
      : Promise.resolve([]),
  ]);
  const payersByKey = new Map(payers.map((p) => [keyString(p.key), p.payers]));
  const merged = [...mergeByKey(rows, () => app.currency).values()].filter((g) => hasData(g.sums));
  const groups: StatsResult[] = merged.map((g) => ({
    dimensions: g.key,
    installs: g.sums.installs,
    metrics: () =>
      pickMetrics(
        computeKpis(
          g.sums,
          daily ? g.sums.payerDays : (payersByKey.get(keyString(g.key)) ?? 0),
          app.currency,
          fx,
        ),
        q.metrics,
      ),
  }));
  groups.sort((a, b) => compareStats(sortKey(a, q.groupBy), sortKey(b, q.groupBy)));
  return { period, rows: groups };
}

export type StatsKey = (string | number)[];

/** Stats are computed whole, then paged: a question with more groups than this is refused (400). */
export const MAX_STATS_ROWS = 200_000;

export const sortKey = (
  r: { dimensions: Record<string, string | null>; installs: number },
  groupBy: Dimension[],
): StatsKey => [
  r.dimensions[groupBy[0]] ?? '',
  r.installs,
  ...groupBy.slice(1).map((d) => r.dimensions[d] ?? ''),
];

const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);

export function compareStats(a: StatsKey, b: StatsKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const c = i === 1 ? cmp(b[i], a[i]) : cmp(a[i], b[i]); // installs descending
    if (c !== 0) return c;
  }
  return 0;
}

/** Binds a stats cursor to the exact question it paginates. */
export function statsFingerprint(appId: string, q: object): string {
  return `stats:${appId}:${createHash('sha256').update(JSON.stringify(q)).digest('base64url').slice(0, 22)}`;
}

export const DEFAULT_METRICS: Metric[] = [...METRICS];

/** The totals currency: the one the apps share, else USD (the FX base). */
export const portfolioCurrency = (apps: AppRow[], requested?: string) =>
  requested ??
  (apps.length && apps.every((a) => a.currency === apps[0].currency) ? apps[0].currency : 'USD');

export async function portfolio(
  sql: Sql,
  fx: FxRates,
  apps: AppRow[],
  q: {
    from?: string;
    to?: string;
    environment: Env;
    filters: Filters;
    currency?: string;
  },
) {
  const periods = new Map(apps.map((a) => [a.id, resolvePeriod(q, a.timezone)]));
  const scope = {
    ranges: apps.map((a) => ({ appId: a.id, ...periods.get(a.id)! })),
    environment: q.environment,
    filters: q.filters,
  };
  const appById = new Map(apps.map((a) => [a.id, a]));
  await foldFor(
    sql,
    apps.map((a) => a.id),
  );
  const [rows, payers] = await Promise.all([
    sumRollups(sql, scope, ['app']),
    countPayers(sql, scope, ['app']),
  ]);
  const byApp = mergeByKey(rows, (r) => appById.get(r.key.app!)!.currency);
  const payersByApp = new Map(payers.map((p) => [p.key.app!, p.payers]));
  const currency = portfolioCurrency(apps, q.currency);

  const totalSums = emptySums();
  let totalPayers = 0;
  const perApp = apps.map((a) => {
    const sums = byApp.get(keyString({ app: a.id }))?.sums ?? emptySums();
    const payersOf = payersByApp.get(a.id) ?? 0;
    addSums(totalSums, sums);
    totalPayers += payersOf; // a device belongs to one app: distinct counts add up
    return { app: a, sums, payers: payersOf };
  });
  const totals = computeKpis(totalSums, totalPayers, currency, fx);
  const share = (part: number, whole: number) =>
    whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000;
  const all = apps.length ? [...periods.values()] : [resolvePeriod(q, 'UTC')];
  return {
    period: {
      from: all.map((p) => p.from).sort()[0],
      to: all
        .map((p) => p.to)
        .sort()
        .reverse()[0],
      timezone: null,
    },
    totals,
    apps: perApp.map(({ app: a, sums, payers: n }) => {
      const inTotals = computeKpis(sums, n, currency, fx);
      const convertible = inTotals.unconvertedCurrencies.length === 0;
      return {
        appId: a.id,
        name: a.name,
        timezone: a.timezone,
        period: { ...periods.get(a.id)!, timezone: a.timezone },
        kpis: computeKpis(sums, n, a.currency, fx),
        share: {
          installs: share(sums.installs, totals.installs),
          revenue: convertible ? share(inTotals.revenue.amount, totals.revenue.amount) : null,
        },
      };
    }),
  };
}
