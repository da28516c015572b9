/**
 * Analytics benchmark: 10 million events and 1 million installs (plus 1.5 million clicks) across
 * 5 apps and 90 days, written directly with generate_series (triggers off), then the rollups are
 * built with analytics_rebuild(). Times overview, stats by date × network × campaign, portfolio
 * and an event-log page deep in the history over HTTP (p50/p95 of sequential requests), beside a
 * bare `GET /healthz` on the same server in the same run.
 *
 *   npx tsx bench/analytics/run.ts                       # seeds a fresh embedded PostgreSQL in /tmp (≈ 10–20 min, ≈ 6 GB)
 *   BENCH_DIR=/tmp/ar-analytics npx tsx bench/analytics/run.ts   # keep / reuse the seeded database
 *   REQUESTS=100 EVENTS=2000000 INSTALLS=200000 npx tsx bench/analytics/run.ts   # other sizes
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { buildServer } from '../../src/http/server.ts';
import { MODULES } from '../../src/modules/index.ts';
import { createServices } from '../../src/runtime.ts';
import { createOrganizationWithOwner } from '../../src/modules/auth/accounts.ts';
import { createApiKey } from '../../src/modules/api-keys/keys.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';
import { rebuildApp } from '../../src/modules/analytics/rollups.ts';

const EVENTS = Number(process.env.EVENTS ?? 10_000_000);
const INSTALLS = Number(process.env.INSTALLS ?? 1_000_000);
const CLICKS = Number(process.env.CLICKS ?? 1_500_000);
const REQUESTS = Number(process.env.REQUESTS ?? 50);
const APPS = [
  { name: 'NY app', timezone: 'America/New_York', currency: 'USD' },
  { name: 'Berlin app', timezone: 'Europe/Berlin', currency: 'EUR' },
  { name: 'Kolkata app', timezone: 'Asia/Kolkata', currency: 'USD' },
  { name: 'Kathmandu app', timezone: 'Asia/Kathmandu', currency: 'USD' },
  { name: 'UTC app', timezone: 'UTC', currency: 'GBP' },
];
const SECRET = 'bench-secret-key-0123456789abcdef0123456789';

const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const keep = !!process.env.BENCH_DIR;
const dir = process.env.BENCH_DIR ?? mkdtempSync(path.join(tmpdir(), 'apprefer-analytics-bench-'));
mkdirSync(dir, { recursive: true });
chmodSync(dir, 0o755);
const marker = path.join(dir, 'seeded.json');

const pg = await startEmbeddedPostgres(dir, {
  extraFlags: [
    '-c',
    'shared_buffers=1GB',
    '-c',
    'max_wal_size=16GB',
    '-c',
    'maintenance_work_mem=512MB',
    '-c',
    'work_mem=64MB',
  ],
});
const sql = createSql(pg.url, { max: 10 });

try {
  await migrate(sql, pg.url);
  let seeded: { orgId: string; userId: string; appIds: string[]; seconds: number } | null =
    existsSync(marker) ? JSON.parse(readFileSync(marker, 'utf8')) : null;
  if (!seeded) {
    const t0 = Date.now();
    seeded = { ...(await seed(sql)), seconds: 0 };
    seeded.seconds = Math.round((Date.now() - t0) / 1000);
    writeFileSync(marker, JSON.stringify(seeded));
  }
  await measure(sql, seeded);
} finally {
  await sql.end({ timeout: 5 });
  await pg.stop();
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

async function seed(sql: Sql) {
  const { organization, userId } = await createOrganizationWithOwner(sql, {
    org: 'Bench',
    email: 'bench@example.com',
    password: 'correct horse battery',
  });
  const appIds: string[] = [];
  for (const a of APPS) appIds.push((await createApp(sql, organization.id, AppCreate.parse(a))).id);
  const currencies = APPS.map((a) => a.currency);
  const perApp = Math.ceil(INSTALLS / APPS.length);

  const db = await sql.reserve();
  try {
    await db`set session_replication_role = replica`; // bulk load: triggers off, rollups built afterwards
    await db`set synchronous_commit = off`;
    // Secondary indexes are rebuilt after the load (faster than maintaining them row by row).
    const indexes = await db<{ name: string; def: string }[]>`
      select i.indexname as name, i.indexdef as def from pg_indexes i
      where i.schemaname = 'public' and i.tablename in ('clicks', 'events', 'attributions', 'devices')
        and not exists (select 1 from pg_constraint c where c.conindid = (quote_ident(i.indexname))::regclass)`;
    for (const i of indexes) await db.unsafe(`drop index ${i.name}`);

    log(`devices + attributions: ${INSTALLS}`);
    await db`
      create unlogged table bench_dev as
      select g as pk, (${appIds}::text[])[1 + (g - 1) / ${perApp}] as app_id, (g - 1) / ${perApp} as app_idx,
             now() - random() * interval '90 days' as installed_at, random() as r_net, random() as r_c, random() as r_x
      from generate_series(1, ${INSTALLS}::int) g`;
    await db`
      insert into devices (id, app_id, environment, device_id, platform, installed_at, first_seen_at, last_seen_at, attribution_id, country)
      select pk, app_id, 'live', 'dev-' || pk, case when pk % 2 = 0 then 'ios' else 'android' end, installed_at, installed_at,
             installed_at, 'att_' || pk, 'US'
      from bench_dev`;
    await db`select setval('devices_id_seq', ${INSTALLS}::bigint)`;
    await db`
      insert into attributions (id, app_id, environment, device_pk, device_id, platform, network, match_type, campaign,
                                ad_group_id, ad_id, link_id, installed_at, country, created_at, updated_at)
      select 'att_' || pk, app_id, 'live', pk, 'dev-' || pk, case when pk % 2 = 0 then 'ios' else 'android' end, net,
             case net when 'organic' then 'organic' when 'apple_search_ads' then 'adservices' else 'click_id' end,
             case when net = 'organic' then null else net || '_c' || floor(r_c * 5)::int end,
             case when net = 'organic' then null else net || '_c' || floor(r_c * 5)::int || '_g' || floor(r_x * 4)::int end,
             case when net = 'organic' then null else net || '_a' || floor(r_x * 12)::int end,
             case when net in ('meta', 'google', 'tiktok') then net || '-link-' || floor(r_c * 2)::int end,
             installed_at, (array['US','DE','GB','FR','IN','BR','JP','CA','AU','ES','IT','MX'])[1 + floor(r_x * 12)::int],
             installed_at, installed_at
      from (select *, case when r_net < 0.4 then 'organic' when r_net < 0.65 then 'meta' when r_net < 0.8 then 'google'
                           when r_net < 0.9 then 'tiktok' else 'apple_search_ads' end as net from bench_dev) d`;

    log(`install events: ${INSTALLS}`);
    await db`
      insert into events (id, app_id, environment, device_pk, device_id, event_name, source, properties, occurred_at, received_at)
      select 'evt_i' || pk, app_id, 'live', pk, 'dev-' || pk, 'install', 'system', '{}', installed_at, installed_at from bench_dev`;

    const others = EVENTS - INSTALLS;
    const chunk = 1_000_000;
    for (let start = 0; start < others; start += chunk) {
      const end = Math.min(others, start + chunk);
      log(`events ${start + INSTALLS}–${end + INSTALLS} of ${EVENTS}`);
      await db`
        insert into events (id, app_id, environment, device_pk, device_id, event_name, source, revenue, currency, is_control,
                            properties, occurred_at, received_at)
        select 'evt_' || g, d.app_id, 'live', d.pk, 'dev-' || d.pk, n.name,
               case when n.name = 'qualified_trial' then 'system' when n.name in ('purchase', 'subscribe', 'refund') then 'revenuecat' else 'sdk' end,
               n.revenue, case when n.revenue is null then null else (${currencies}::text[])[1 + d.app_idx] end,
               n.name = '_set_user_id', '{}', at, at
        from generate_series(${start + 1}::int, ${end}::int) g
        join bench_dev d on d.pk = 1 + (g % ${INSTALLS}::int)
        cross join lateral (select d.installed_at + random() * (now() - d.installed_at) as at, random() as r, random() as r2) x
        cross join lateral (
          select case when x.r < 0.45 then 'session_start' when x.r < 0.65 then 'view_content' when x.r < 0.75 then 'tutorial_complete'
                      when x.r < 0.83 then 'start_trial' when x.r < 0.865 then 'qualified_trial' when x.r < 0.915 then 'purchase'
                      when x.r < 0.945 then 'subscribe' when x.r < 0.95 then 'refund' else '_set_user_id' end as name,
                 case when x.r >= 0.865 and x.r < 0.915 then (array[4.99, 9.99, 29.99])[1 + floor(x.r2 * 3)::int]
                      when x.r >= 0.915 and x.r < 0.945 then (array[9.99, 59.99])[1 + floor(x.r2 * 2)::int]
                      when x.r >= 0.945 and x.r < 0.95 then 9.99 end as revenue
        ) n`;
    }

    log(`clicks: ${CLICKS}`);
    await db`
      insert into clicks (id, app_id, link_id, environment, clicked_at, network, campaign, ad_group_id, ad_id, platform, country, is_bot)
      select 'arc_' || g, (${appIds}::text[])[1 + g % ${APPS.length}::int], net || '-link-' || (g % 2), 'live',
             now() - random() * interval '30 days', net, net || '_c' || (g % 5), net || '_c' || (g % 5) || '_g' || (g % 4),
             net || '_a' || (g % 12), case when g % 2 = 0 then 'ios' else 'android' end,
             (array['US','DE','GB','FR','IN','BR','JP','CA','AU','ES','IT','MX'])[1 + g % 12], g % 33 = 0
      from (select g, (array['meta','meta','google','tiktok'])[1 + g % 4] as net from generate_series(1, ${CLICKS}::int) g) c`;
    await db`drop table bench_dev`;

    log(`rebuilding ${indexes.length} secondary indexes`);
    for (const i of indexes) await db.unsafe(i.def);
    await db`set session_replication_role = origin`;
  } finally {
    db.release();
  }

  for (const id of appIds) {
    log(`rollups of ${id}`);
    await rebuildApp(sql, id);
  }
  log('vacuum analyze');
  for (const t of [
    'events',
    'attributions',
    'devices',
    'clicks',
    'analytics_daily',
    'analytics_daily_campaign',
    'analytics_payers',
    'analytics_payer_days',
    'analytics_dims',
  ]) {
    await sql.unsafe(`vacuum (analyze) ${t}`);
  }
  return { orgId: organization.id, userId, appIds };
}

async function measure(
  sql: Sql,
  seeded: { orgId: string; userId: string; appIds: string[]; seconds: number },
) {
  const [counts] = await sql<Record<string, string>[]>`
    select (select count(*) from events)::text as events, (select count(*) from attributions)::text as installs,
           (select count(*) from clicks)::text as clicks, (select count(*) from analytics_daily)::text as rollup_rows,
           (select count(*) from analytics_daily_campaign)::text as coarse_rows, (select count(*) from analytics_payers)::text as payer_rows,
           pg_size_pretty(pg_database_size(current_database())) as db_size`;
  log('rows', counts, seeded.seconds ? `(seeded in ${seeded.seconds} s)` : '');

  const config = loadConfig({
    DATABASE_URL: pg.url,
    DATA_DIR: dir,
    SECRET_KEY: SECRET,
    LOG_LEVEL: 'silent',
    API_RATE_LIMIT_PER_MINUTE: '1000000',
    PUBLIC_URL: 'http://127.0.0.1',
  });
  const services = createServices(config, sql, pino({ level: 'silent' }));
  const app = await buildServer(services, MODULES);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const { key } = await createApiKey(sql, {
    orgId: seeded.orgId,
    name: 'bench',
    permission: 'analytics',
    appIds: null,
    createdBy: seeded.userId,
  });
  const headers = { authorization: `Bearer ${key}` };

  // A cursor one million events deep into each app's log (the server signs it the same way).
  const deep = await Promise.all(
    seeded.appIds.map(async (id) => {
      const [row] = await sql<{ at: string; seq: string }[]>`
      select to_char(received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, seq::text from events
      where app_id = ${id} and environment = 'live' order by received_at desc, seq desc offset ${Math.floor(EVENTS / APPS.length / 2)} limit 1`;
      return services.cursors.encode(`events:${id}:live`, [row.at, row.seq]);
    }),
  );

  const appAt = (i: number) => seeded.appIds[i % seeded.appIds.length];
  const cases: [string, (i: number) => string][] = [
    ['GET /healthz (bare baseline)', () => '/healthz'],
    ['overview, last 7 days', (i) => `/api/v1/apps/${appAt(i)}/overview`],
    [
      'overview, 90 days, network=meta',
      (i) => `/api/v1/apps/${appAt(i)}/overview?from=${daysAgo(89)}&to=${daysAgo(0)}&network=meta`,
    ],
    [
      'stats date×network×campaign, 30 days',
      (i) =>
        `/api/v1/apps/${appAt(i)}/stats?from=${daysAgo(29)}&to=${daysAgo(0)}&groupBy=date,network,campaign&limit=200`,
    ],
    [
      'stats date×network×campaign, 90 days',
      (i) =>
        `/api/v1/apps/${appAt(i)}/stats?from=${daysAgo(89)}&to=${daysAgo(0)}&groupBy=date,network,campaign&limit=200`,
    ],
    ['portfolio, last 7 days', () => '/api/v1/portfolio'],
    ['portfolio, 90 days', () => `/api/v1/portfolio?from=${daysAgo(89)}&to=${daysAgo(0)}`],
    [
      'events page 1M rows deep',
      (i) => `/api/v1/apps/${appAt(i)}/events?limit=50&cursor=${deep[i % deep.length]}`,
    ],
    [
      'events page, eventName=purchase',
      (i) => `/api/v1/apps/${appAt(i)}/events?limit=50&eventName=purchase`,
    ],
  ];
  console.log(
    `\n${REQUESTS} sequential requests each (after 5 warm-up), analytics key, ${counts.events} events / ${counts.installs} installs / ${counts.clicks} clicks`,
  );
  console.log(
    'endpoint'.padEnd(42),
    'p50 ms'.padStart(8),
    'p95 ms'.padStart(8),
    'max ms'.padStart(8),
  );
  for (const [name, pathOf] of cases) {
    for (let i = 0; i < 5; i++) await call(base + pathOf(i), headers);
    const ms: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = performance.now();
      await call(base + pathOf(i), headers);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    const pct = (p: number) =>
      ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)].toFixed(1);
    console.log(
      name.padEnd(42),
      pct(50).padStart(8),
      pct(95).padStart(8),
      ms[ms.length - 1].toFixed(1).padStart(8),
    );
  }
  await app.close();
}

async function call(url: string, headers: Record<string, string>) {
  const r = await fetch(url, { headers });
  const body = await r.text();
  if (r.status !== 200) throw new Error(`${url} → ${r.status} ${body.slice(0, 300)}`);
}

function daysAgo(n: number) {
  return new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
}
