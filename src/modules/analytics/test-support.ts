/**
 * Test helpers of the analytics tests: rows written with SQL exactly as the tracking and links
 * modules write them (the same triggers fire), for instants the public endpoints cannot produce
 * (yesterday, a DST night, a late event).
 */
import type { Sql } from '../../db/client.ts';
import { randomBase62, randomHex } from '../../lib/crypto.ts';

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

/** Rollups ∪ pending summed per full key, and the same recomputed from raw rows: they must be equal. */
export async function rollupVersusRaw(sql: Sql, appId: string) {
  const key =
    'environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type, event_name, currency';
  const metrics = `sum(clicks)::int as clicks, sum(installs)::int as installs, sum(attributed_installs)::int as attributed,
    sum(events)::int as events, sum(trials)::int as trials, sum(qualified_trials)::int as qualified, sum(purchases)::int as purchases,
    sum(revenue)::text as revenue, sum(paying_users)::int as paying_users`;
  const nonZero =
    'having (sum(clicks), sum(installs), sum(events), sum(revenue), sum(paying_users)) <> (0, 0, 0, 0, 0)';
  const both = await sql.unsafe(
    `
    select ${key}, ${metrics} from (
      select ${key}, clicks, installs, attributed_installs, events, trials, qualified_trials, purchases, revenue, paying_users from analytics_daily where app_id = $1
      union all
      select ${key}, clicks, installs, attributed_installs, events, trials, qualified_trials, purchases, revenue, paying_users from analytics_pending where app_id = $1
    ) x group by ${key} ${nonZero} order by ${key}`,
    [appId],
  );
  const raw = await sql.unsafe(
    `
    select ${key}, ${metrics} from (
      select f.environment, (f.at at time zone a.timezone)::date as day, f.network, f.campaign, f.ad_group_id, f.ad_id, f.link_id,
             f.platform, f.country, f.match_type, f.event_name, f.currency, f.clicks, f.installs, f.attributed_installs, f.events,
             f.trials, f.qualified_trials, f.purchases, f.revenue, 0 as paying_users
      from analytics_facts f join apps a on a.id = f.app_id where f.app_id = $1
      union all
      select environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type, '', '',
             0, 0, 0, 0, 0, 0, 0, 0, 1
      from (select distinct f.environment, (f.at at time zone a.timezone)::date as day, f.network, f.campaign, f.ad_group_id,
                   f.ad_id, f.link_id, f.platform, f.country, f.match_type, f.device_pk
            from analytics_event_facts f join apps a on a.id = f.app_id where f.app_id = $1 and f.purchases > 0) d
    ) x group by ${key} ${nonZero} order by ${key}`,
    [appId],
  );
  const norm = (rows: Record<string, unknown>[]) =>
    rows.map((r) => ({
      ...r,
      day: String(r.day instanceof Date ? r.day.toISOString() : r.day),
      revenue: Number(r.revenue),
    }));
  return { rollup: norm(both), raw: norm(raw) };
}

/** Paying device-days as stored, and as recomputed from raw purchases (with each previous paying day). */
export async function payerDaysVersusRaw(sql: Sql, appId: string) {
  const stored = await sql`
    select device_pk::text, day::text, prev_day::text, network, campaign, platform, country
    from analytics_payer_days where app_id = ${appId} order by device_pk, day`;
  const raw = await sql`
    select device_pk::text, day::text, (lag(day) over (partition by device_pk order by day))::text as prev_day, network, campaign, platform, country
    from (select distinct f.device_pk, (f.at at time zone a.timezone)::date as day, f.network, f.campaign, f.platform, f.country
          from analytics_event_facts f join apps a on a.id = f.app_id where f.app_id = ${appId} and f.purchases > 0) d
    order by device_pk, day`;
  const counts = await sql`
    select day::text, prev_day::text, sum(payers)::int as payers from (
      select day, prev_day, payers from analytics_payer_counts where app_id = ${appId}
      union all select day, prev_day, payers from analytics_payer_counts_pending where app_id = ${appId}) c
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
