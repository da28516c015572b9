/**
 * Analytics reads. KPIs come from the rollups (callers fold their apps' unfolded writes first:
 * rollups.ts `foldFor`, so answers are exact and immediate); only the event log and the
 * attributions list read raw rows, by index.
 */
import type { Sql } from '../../db/client.ts';
import { validationError } from '../../http/errors.ts';
import { emptySums, type Sums } from './definitions.ts';

export const DIMENSIONS = [
  'date',
  'network',
  'campaign',
  'adGroup',
  'ad',
  'linkId',
  'platform',
  'country',
  'matchType',
  'eventName',
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** Rollup column of each API dimension (plus `app` for the portfolio). */
const COLUMN: Record<Dimension | 'app', string> = {
  date: 'day',
  network: 'network',
  campaign: 'campaign',
  adGroup: 'ad_group_id',
  ad: 'ad_id',
  linkId: 'link_id',
  platform: 'platform',
  country: 'country',
  matchType: 'match_type',
  eventName: 'event_name',
  app: 'app_id',
};

export const FILTERS = ['network', 'campaign', 'platform', 'country', 'linkId'] as const;
export type FilterName = (typeof FILTERS)[number];
export type Filters = Partial<Record<FilterName, string[]>>;

/** Dimensions and filters the coarse rollup (analytics_daily_campaign) can answer. */
const COARSE = new Set<string>(['date', 'network', 'campaign', 'platform', 'app']);

/** Columns every rollup and payer table has itself; the other dimensions are in analytics_dims. */
const OWN_COLUMNS = new Set(['day', 'event_name', 'app_id', 'device_pk']);

/**
 * A rollup or payer table as a row source; with its dimensions spelled out (`analytics_dims`,
 * migration 0015) when the question names one.
 */
function source(sql: Sql, table: string, names: string[]) {
  if (table === 'analytics_daily_campaign' || names.every((c) => OWN_COLUMNS.has(c)))
    return sql`${sql(table)}`;
  return sql`(select x.*, (d.dims).* from ${sql(table)} x join analytics_dims d on d.id = x.dims_id)`;
}

export type Scope = {
  /** Each app with its own inclusive day range (days are local to each app). */
  ranges: { appId: string; from: string; to: string }[];
  environment: 'live' | 'sandbox';
  filters: Filters;
};

type GroupKey = Dimension | 'app';

export type SumsRow = { key: Record<string, string | null>; currency: string; sums: Sums };

function filterSql(sql: Sql, filters: Filters) {
  return Object.entries(filters)
    .filter(([, v]) => v && v.length)
    .map(([name, values]) => sql`and r.${sql(COLUMN[name as FilterName])} = any(${values!})`)
    .reduce((a, b) => sql`${a} ${b}`, sql``);
}

const rangesSql = (sql: Sql, s: Scope) => sql`
  unnest(${s.ranges.map((r) => r.appId)}::text[], ${s.ranges.map((r) => r.from)}::date[], ${s.ranges.map((r) => r.to)}::date[])
    as p(app_id, d0, d1)`;

const selectKey = (sql: Sql, groupBy: GroupKey[]) =>
  groupBy.map((g) => (g === 'date' ? sql`r.day::text as day` : sql`r.${sql(COLUMN[g])}`));

const groupIdents = (sql: Sql, groupBy: GroupKey[]) => sql(groupBy.map((g) => `r.${COLUMN[g]}`));

const joinFragments = (sql: Sql, parts: ReturnType<typeof selectKey>) =>
  parts.reduce((a, b, i) => (i === 0 ? b : sql`${a}, ${b}`), sql``);

/** Summed rollup rows grouped by `groupBy` and currency. */
export async function sumRollups(
  sql: Sql,
  scope: Scope,
  groupBy: GroupKey[],
  maxRows?: number,
): Promise<SumsRow[]> {
  if (!scope.ranges.length) return [];
  const filterNames = Object.entries(scope.filters)
    .filter(([, v]) => v && v.length)
    .map(([k]) => k);
  const coarse = [...groupBy, ...filterNames].every((d) => COARSE.has(d));
  const table = coarse ? 'analytics_daily_campaign' : 'analytics_daily';
  // network: pending installs (waiting for Apple) are those of the `pending` network not attributed.
  const cols = [...new Set(['app_id', 'network', ...groupBy.map((g) => COLUMN[g])])];
  const metrics = sql`clicks, installs, attributed_installs, events, trials, qualified_trials, purchases, revenue, paying_users`;
  const from = source(sql, table, [...cols, ...filterNames.map((f) => COLUMN[f as FilterName])]);
  const rows = sql`
    select ${sql(cols)}, currency, ${metrics} from ${from} r
    where r.app_id = p.app_id and r.environment = ${scope.environment} and r.day between p.d0 and p.d1
      ${filterSql(sql, scope.filters)}
    offset 0`; // one index range per app: flattened, the planner hashes a scan of the whole rollup
  const key = selectKey(sql, groupBy);
  const groupCols = groupBy.length ? sql`${joinFragments(sql, key)}, ` : sql``;
  const result = await sql<Record<string, string>[]>`
    select ${groupCols} r.currency,
           sum(r.clicks)::text as clicks, sum(r.installs)::text as installs,
           sum(r.attributed_installs)::text as attributed_installs,
           (sum(r.installs - r.attributed_installs) filter (where r.network = 'pending'))::text as pending_installs,
           sum(r.events)::text as events,
           sum(r.trials)::text as trials, sum(r.qualified_trials)::text as qualified_trials,
           sum(r.purchases)::text as purchases, sum(r.revenue)::text as revenue, sum(r.paying_users)::text as paying_users
    from ${rangesSql(sql, scope)}
    cross join lateral (${rows}) r
    group by ${groupBy.length ? sql`${groupIdents(sql, groupBy)}, ` : sql``} r.currency
    ${maxRows ? sql`limit ${maxRows + 1}` : sql``}`;
  if (maxRows && result.length > maxRows) {
    throw validationError(
      'groupBy',
      `more than ${maxRows} groups: narrow the period, the filters or the dimensions`,
    );
  }
  return result.map((r) => {
    const sums = emptySums();
    sums.clicks = Number(r.clicks);
    sums.installs = Number(r.installs);
    sums.attributedInstalls = Number(r.attributed_installs);
    sums.pendingInstalls = Number(r.pending_installs ?? 0);
    sums.events = Number(r.events);
    sums.trials = Number(r.trials);
    sums.qualifiedTrials = Number(r.qualified_trials);
    sums.purchases = Number(r.purchases);
    sums.payerDays = Number(r.paying_users);
    const revenue = Number(r.revenue);
    if (revenue !== 0 || r.currency !== '') sums.revenueByCurrency.set(r.currency, revenue);
    return { key: keyOf(r, groupBy), currency: r.currency, sums };
  });
}

/**
 * Distinct paying devices over each whole period, grouped by `groupBy`. A device counts on its
 * first paying day inside the period (prev_day before `from`): a count over an index, no distinct.
 * By event name a device may pay under several names: a distinct over analytics_payers then.
 * Daily counts come cheaper from the rollups' paying_users.
 */
export async function countPayers(
  sql: Sql,
  scope: Scope,
  groupBy: GroupKey[],
): Promise<{ key: Record<string, string | null>; payers: number }[]> {
  if (!scope.ranges.length) return [];
  const filtered = Object.values(scope.filters).some((v) => v && v.length);
  if (!filtered && groupBy.every((g) => g === 'app')) {
    // Unfiltered: a few rows per app and day in analytics_payer_counts.
    const rows = await sql<Record<string, string>[]>`
      select r.app_id, sum(r.payers)::text as payers
      from ${rangesSql(sql, scope)}
      cross join lateral (
        select r.app_id, r.payers from analytics_payer_counts r
        where r.app_id = p.app_id and r.environment = ${scope.environment} and r.day between p.d0 and p.d1
          and r.prev_day < p.d0) r
      group by r.app_id`;
    if (!groupBy.length)
      return [{ key: {}, payers: rows.reduce((n, r) => n + Number(r.payers), 0) }];
    return rows.map((r) => ({ key: keyOf(r, groupBy), payers: Number(r.payers) }));
  }
  const key = selectKey(sql, groupBy);
  const byName = groupBy.includes('eventName');
  const cols = [
    ...new Set(['app_id', ...groupBy.map((g) => COLUMN[g]), ...(byName ? ['device_pk'] : [])]),
  ];
  const names = [
    ...cols,
    ...Object.entries(scope.filters)
      .filter(([, v]) => v && v.length)
      .map(([k]) => COLUMN[k as FilterName]),
  ];
  const inner = byName
    ? sql`select distinct ${sql(cols)} from ${source(sql, 'analytics_payers', names)} r
          where r.app_id = p.app_id and r.environment = ${scope.environment} and r.day between p.d0 and p.d1
            ${filterSql(sql, scope.filters)}`
    : sql`select ${sql(cols)} from ${source(sql, 'analytics_payer_days', names)} r
          where r.app_id = p.app_id and r.environment = ${scope.environment} and r.day between p.d0 and p.d1
            and (r.prev_day is null or r.prev_day < p.d0) ${filterSql(sql, scope.filters)}`;
  const rows = await sql<Record<string, string>[]>`
    select ${groupBy.length ? sql`${joinFragments(sql, key)}, ` : sql``} count(*)::text as payers
    from ${rangesSql(sql, scope)}
    cross join lateral (${inner}) r
    ${groupBy.length ? sql`group by ${groupIdents(sql, groupBy)}` : sql``}`;
  return rows.map((r) => ({ key: keyOf(r, groupBy), payers: Number(r.payers) }));
}

function keyOf(r: Record<string, string>, groupBy: GroupKey[]): Record<string, string | null> {
  const key: Record<string, string | null> = {};
  for (const g of groupBy) {
    const v = r[COLUMN[g]];
    key[g] = v === '' || v === undefined ? null : v;
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// Raw rows: event log and attributions.

/** Local-day bounds as instants: [start of `from`, start of the day after `to`). */
const dayStart = (sql: Sql, day: string, tz: string) =>
  sql`(${day}::date::timestamp at time zone ${tz})`;
const dayEnd = (sql: Sql, day: string, tz: string) =>
  sql`((${day}::date + 1)::timestamp at time zone ${tz})`;

export type EventRow = {
  seq: string;
  id: string;
  event_name: string;
  device_id: string | null;
  user_id: string | null;
  source: string;
  environment: string;
  revenue: string | null;
  currency: string | null;
  properties: unknown;
  revenue_raw: string | null;
  flags: string[];
  occurred_at: Date;
  received_at: Date;
  at: string;
  network: string | null;
  campaign: string | null;
  match_type: string | null;
};

export async function listEvents(
  sql: Sql,
  q: {
    appId: string;
    environment: string;
    timezone: string;
    from?: string;
    to?: string;
    eventNames?: string[];
    sources?: string[];
    deviceId?: string;
    after: [string, string] | null;
    limit: number;
  },
): Promise<EventRow[]> {
  return sql<EventRow[]>`
    select e.seq::text, e.id, e.event_name, e.device_id, e.user_id, e.source, e.environment, e.revenue::text,
           e.currency, e.properties, e.revenue_raw, e.flags, e.occurred_at, e.received_at,
           to_char(e.received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
           t.network, t.campaign, t.match_type
    from events e
    left join attributions t on t.device_pk = e.device_pk
    where e.app_id = ${q.appId} and e.environment = ${q.environment}
      ${q.eventNames?.length ? sql`and e.event_name = any(${q.eventNames})` : sql``}
      ${q.sources?.length ? sql`and e.source = any(${q.sources})` : sql``}
      ${
        q.deviceId !== undefined
          ? sql`and e.device_pk = (select d.id from devices d
            where d.app_id = ${q.appId} and d.environment = ${q.environment} and d.device_id = ${q.deviceId})`
          : sql``
      }
      ${q.from ? sql`and e.received_at >= ${dayStart(sql, q.from, q.timezone)}` : sql``}
      ${q.to ? sql`and e.received_at < ${dayEnd(sql, q.to, q.timezone)}` : sql``}
      ${q.after ? sql`and (e.received_at, e.seq) < (${q.after[0]}::timestamptz, ${q.after[1]}::bigint)` : sql``}
    order by e.received_at desc, e.seq desc
    limit ${q.limit + 1}`;
}

export type AttributionRow = {
  id: string;
  device_id: string;
  platform: string;
  environment: string;
  network: string;
  match_type: string;
  campaign: string | null;
  campaign_id: string | null;
  ad_group_id: string | null;
  ad_id: string | null;
  link_id: string | null;
  click_id: string | null;
  clicked_at: Date | null;
  installed_at: Date;
  country: string | null;
  reinstall: boolean;
  explanation: Record<string, unknown>;
  at: string;
};

export async function listAttributions(
  sql: Sql,
  q: {
    appId: string;
    environment: string;
    timezone: string;
    from: string;
    to: string;
    filters: Filters;
    after: [string, string] | null;
    limit: number;
  },
): Promise<AttributionRow[]> {
  return sql<AttributionRow[]>`
    select r.id, r.device_id, r.platform, r.environment, r.network, r.match_type, r.campaign, r.campaign_id,
           r.ad_group_id, r.ad_id, r.link_id, r.click_id, r.clicked_at, r.installed_at, r.country, r.reinstall,
           r.explanation, to_char(r.installed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at
    from attributions r
    where r.app_id = ${q.appId} and r.environment = ${q.environment}
      and r.installed_at >= ${dayStart(sql, q.from, q.timezone)} and r.installed_at < ${dayEnd(sql, q.to, q.timezone)}
      ${filterSql(sql, q.filters)}
      ${q.after ? sql`and (r.installed_at, r.id) < (${q.after[0]}::timestamptz, ${q.after[1]})` : sql``}
    order by r.installed_at desc, r.id desc
    limit ${q.limit + 1}`;
}
