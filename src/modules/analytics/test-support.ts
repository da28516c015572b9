/**
 * Test helpers of the analytics tests: rows written with SQL exactly as the tracking and links
 * modules write them (the same triggers fire), for instants the public endpoints cannot produce
 * (yesterday, a DST night, a late event).
 */
import type { Sql } from '../../db/client.ts';
import { randomBase62, randomHex } from '../../lib/crypto.ts';
import { fold } from './rollups.ts';

type Env = 'live' | 'sandbox';

export async function sqlClick(
  sql: Sql,
  c: {
    appId: string;
    at: string | Date;
    linkId?: string;
    network?: string;
    campaign?: string | null;
    platform?: string | null;
    country?: string | null;
    environment?: Env;
    isBot?: boolean;
    duplicateOf?: string | null;
    adGroupId?: string | null;
    adId?: string | null;
  },
): Promise<string> {
  const id = `arc_${randomBase62(20)}`;
  await sql`
    insert into clicks (id, app_id, link_id, environment, clicked_at, network, campaign, ad_group_id, ad_id, platform, country, is_bot, duplicate_of)
    values (${id}, ${c.appId}, ${c.linkId ?? 'link-a'}, ${c.environment ?? 'live'}, ${new Date(c.at)}, ${c.network ?? 'meta'},
            ${c.campaign ?? null}, ${c.adGroupId ?? null}, ${c.adId ?? null}, ${c.platform ?? 'ios'}, ${c.country ?? 'US'},
            ${c.isBot ?? false}, ${c.duplicateOf ?? null})`;
  return id;
}

/** A configured device with its attribution and the system install event. Returns the device pk. */
export async function sqlInstall(
  sql: Sql,
  i: {
    appId: string;
    at: string | Date;
    deviceId?: string;
    network?: string;
    matchType?: string;
    campaign?: string | null;
    linkId?: string | null;
    platform?: string;
    country?: string | null;
    environment?: Env;
    adGroupId?: string | null;
    adId?: string | null;
  },
): Promise<{ devicePk: string; deviceId: string; attributionId: string }> {
  const env = i.environment ?? 'live';
  const deviceId = i.deviceId ?? `dev-${randomBase62(12)}`;
  const at = new Date(i.at);
  const attributionId = `att_${randomHex(12)}`;
  return sql.begin(async (tx) => {
    const [d] = await tx<{ id: string }[]>`
      insert into devices (app_id, environment, device_id, platform, installed_at, first_seen_at)
      values (${i.appId}, ${env}, ${deviceId}, ${i.platform ?? 'ios'}, ${at}, ${at})
      on conflict (app_id, environment, device_id) do update set installed_at = excluded.installed_at
      returning id`;
    const network = i.network ?? 'organic';
    await tx`
      insert into attributions (id, app_id, environment, device_pk, device_id, platform, network, match_type, campaign, link_id,
                                ad_group_id, ad_id, installed_at, country)
      values (${attributionId}, ${i.appId}, ${env}, ${d.id}, ${deviceId}, ${i.platform ?? 'ios'}, ${network},
              ${i.matchType ?? (network === 'organic' ? 'organic' : 'click_id')}, ${i.campaign ?? null}, ${i.linkId ?? null},
              ${i.adGroupId ?? null}, ${i.adId ?? null}, ${at}, ${i.country ?? 'US'})`;
    await tx`
      insert into events (id, app_id, environment, device_pk, device_id, event_name, source, occurred_at, received_at)
      values (${`evt_${randomHex(12)}`}, ${i.appId}, ${env}, ${d.id}, ${deviceId}, 'install', 'system', ${at}, ${at})`;
    return { devicePk: d.id, deviceId, attributionId };
  });
}

/** An event of a device (a stub device is created when unknown, as the event writer does). */
export async function sqlEvent(
  sql: Sql,
  e: {
    appId: string;
    deviceId: string;
    name: string;
    at: string | Date;
    revenue?: number | null;
    currency?: string | null;
    source?: string;
    environment?: Env;
    isControl?: boolean;
  },
): Promise<string> {
  const env = e.environment ?? 'live';
  const id = `evt_${randomHex(12)}`;
  await sql.begin(async (tx) => {
    const [d] = await tx<{ id: string }[]>`
      insert into devices (app_id, environment, device_id) values (${e.appId}, ${env}, ${e.deviceId})
      on conflict (app_id, environment, device_id) do update set last_seen_at = now()
      returning id`;
    await tx`
      insert into events (id, app_id, environment, device_pk, device_id, event_name, source, revenue, currency, is_control, occurred_at, received_at)
      values (${id}, ${e.appId}, ${env}, ${d.id}, ${e.deviceId}, ${e.name}, ${e.source ?? 'sdk'},
              ${e.revenue === undefined || e.revenue === null ? null : String(e.revenue)}, ${e.currency ?? (e.revenue == null ? null : 'USD')},
              ${e.isControl ?? e.name.startsWith('_')}, ${new Date(e.at)}, ${new Date(e.at)})`;
  });
  return id;
}

const DIMS =
  '(d.dims).network, (d.dims).campaign, (d.dims).ad_group_id, (d.dims).ad_id, (d.dims).link_id, (d.dims).platform, (d.dims).country, (d.dims).match_type';
const DIM_NAMES = 'network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type';

/**
 * The rollups summed per full key (after folding the inbox), and the same recomputed from the raw
 * rows with the facts' definition (migration 0015): they must be equal.
 */
export async function rollupVersusRaw(sql: Sql, appId: string) {
  await fold(sql);
  const key = `environment, day, ${DIM_NAMES}, event_name, currency`;
  const metrics = `sum(clicks)::int as clicks, sum(installs)::int as installs, sum(attributed_installs)::int as attributed,
    sum(events)::int as events, sum(trials)::int as trials, sum(qualified_trials)::int as qualified, sum(purchases)::int as purchases,
    sum(revenue)::text as revenue, sum(paying_users)::int as paying_users`;
  const nonZero =
    'having (sum(clicks), sum(installs), sum(events), sum(revenue), sum(paying_users)) <> (0, 0, 0, 0, 0)';
  const rollup = await sql.unsafe(
    `
    select ${key}, ${metrics} from (
      select r.environment, r.day, ${DIMS}, r.event_name, r.currency, clicks, installs, attributed_installs, events, trials,
             qualified_trials, purchases, revenue, paying_users
      from analytics_daily r join analytics_dims d on d.id = r.dims_id where r.app_id = $1
    ) x group by ${key} ${nonZero} order by ${key}`,
    [appId],
  );
  const raw = await sql.unsafe(
    `
    select ${key}, ${metrics} from (
      select f.environment, (f.at at time zone a.timezone)::date as day, ${DIMS.replaceAll('d.dims', 'f.dims')}, f.event_name,
             f.currency, (f.counts).clicks, (f.counts).installs, (f.counts).attributed_installs, (f.counts).events,
             (f.counts).trials, (f.counts).qualified_trials, (f.counts).purchases, (f.counts).revenue, 0 as paying_users
      from analytics_facts f join apps a on a.id = f.app_id where f.app_id = $1
      union all
      select environment, day, ${DIMS.replaceAll('d.dims', 'dims')}, '', '', 0, 0, 0, 0, 0, 0, 0, 0, 1
      from (select distinct f.environment, (f.at at time zone a.timezone)::date as day, analytics_attribution_dims(t) as dims,
                   f.device_pk
            from analytics_event_facts f join apps a on a.id = f.app_id left join attributions t on t.device_pk = f.device_pk
            where f.app_id = $1 and (f.counts).purchases > 0 and f.device_pk is not null) d
    ) x group by ${key} ${nonZero} order by ${key}`,
    [appId],
  );
  const norm = (rows: Record<string, unknown>[]) =>
    rows.map((r) => ({
      ...r,
      day: String(r.day instanceof Date ? r.day.toISOString() : r.day),
      revenue: Number(r.revenue),
    }));
  return { rollup: norm(rollup), raw: norm(raw) };
}

/** Paying device-days as stored, and as recomputed from raw purchases (with each previous paying day). */
export async function payerDaysVersusRaw(sql: Sql, appId: string) {
  await fold(sql);
  const stored = await sql`
    select p.device_pk::text, p.day::text, p.prev_day::text, (d.dims).network, (d.dims).campaign, (d.dims).platform,
           (d.dims).country
    from analytics_payer_days p join analytics_dims d on d.id = p.dims_id
    where p.app_id = ${appId} order by 1, 2`;
  const raw = await sql`
    select device_pk::text, day::text, (lag(day) over (partition by device_pk order by day))::text as prev_day,
           (dims).network, (dims).campaign, (dims).platform, (dims).country
    from (select distinct f.device_pk, (f.at at time zone a.timezone)::date as day, analytics_attribution_dims(t) as dims
          from analytics_event_facts f join apps a on a.id = f.app_id left join attributions t on t.device_pk = f.device_pk
          where f.app_id = ${appId} and (f.counts).purchases > 0 and f.device_pk is not null) d
    order by 1, 2`;
  const counts = await sql`
    select day::text, prev_day::text, sum(payers)::int as payers from analytics_payer_counts where app_id = ${appId}
    group by 1, 2 having sum(payers) <> 0 order by 1, 2`;
  const countsFromDays = await sql`
    select day::text, coalesce(prev_day, '-infinity')::text as prev_day, count(*)::int as payers
    from analytics_payer_days where app_id = ${appId} group by 1, 2 order by 1, 2`;
  return {
    stored: [...stored],
    raw: [...raw],
    counts: [...counts],
    countsFromDays: [...countsFromDays],
  };
}
