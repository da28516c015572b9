/**
 * What the conversion outbox adds to an SDK event batch, without HTTP: the event writer's
 * statement (`ingest_events`, migration 0017: insert, outbox, dedup) for batches of 100 events of
 * devices attributed to Meta, from CONCURRENCY connections at once, for an app that forwards
 * nowhere and an app with Meta enabled (paused, so deliveries are recorded and not sent). Rounds of
 * the two alternate; medians are compared.
 *
 *   npx tsx bench/forwarding/outbox-cost.ts
 *   ROUNDS=7 SECONDS=4 CONCURRENCY=8 npx tsx bench/forwarding/outbox-cost.ts
 *   DATABASE_URL=postgres://… npx tsx bench/forwarding/outbox-cost.ts   # instead of an embedded PostgreSQL
 */
import { benchDatabase, benchOrganization } from '../support.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';
import { DEFAULT_MAPPING } from '../../src/modules/integrations/networks.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 4);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const BATCH = 100;
const DEVICES = 5000;

const db = await benchDatabase('outbox-bench');
const sql = createSql(db.url, { max: CONCURRENCY + 1 });
let seq = 0;

try {
  const orgId = await benchOrganization(sql, db.url);
  const apps = {
    off: await attributedApp(sql, orgId, 'off'),
    on: await attributedApp(sql, orgId, 'on'),
  };
  await sql`
    insert into integrations (app_id, network, enabled, configured, status, settings, secrets)
    values (${apps.on.id}, 'meta', true, true, 'unauthorized', ${sql.json({ datasetId: '1' })}, '{}')`;
  await sql`analyze`;

  const rounds = { off: [] as number[], on: [] as number[] };
  await batchesPerSecond(apps.off.id, apps.off.pks, 1); // warm-up
  await batchesPerSecond(apps.on.id, apps.on.pks, 1);
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of ['off', 'on'] as const)
      rounds[side].push(await batchesPerSecond(apps[side].id, apps[side].pks, SECONDS));
  }
  const [{ deliveries }] = await sql<{ deliveries: number }[]>`
    select count(*)::int as deliveries from deliveries`;
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const perEventUs = (bps: number) => (1e6 * CONCURRENCY) / (bps * BATCH);
  console.log(
    `\noutbox cost: batches of ${BATCH} events (1 in 10 a purchase), ${CONCURRENCY} connections, ${ROUNDS} rounds of ${SECONDS} s per side; ${deliveries} deliveries recorded`,
  );
  for (const side of ['off', 'on'] as const)
    console.log(
      `${side === 'off' ? 'no integration' : 'Meta, paused (outbox rows)'}`.padEnd(30),
      `${Math.round(med(rounds[side]) * BATCH)} events/s`.padStart(16),
      `${perEventUs(med(rounds[side])).toFixed(0)} µs per event per connection`.padStart(38),
      `  (rounds: ${rounds[side].map((b) => Math.round(b * BATCH)).join(', ')})`,
    );
  console.log(`on / off: ${(med(rounds.on) / med(rounds.off)).toFixed(3)}`);
} finally {
  await sql.end({ timeout: 5 });
  await db.close();
}

/** Batches per second from CONCURRENCY connections, each inserting batches back to back. */
async function batchesPerSecond(appId: string, pks: number[], seconds: number) {
  const until = performance.now() + seconds * 1000;
  let batches = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await ingestBatch(appId, pks);
        batches++;
      }
    }),
  );
  return batches / ((performance.now() - t0) / 1000);
}

function ingestBatch(appId: string, pks: number[]) {
  const n = Array.from({ length: BATCH }, () => ++seq);
  const purchase = (i: number) => i % 10 === 0;
  const fill = <T>(v: T) => n.map(() => v);
  return sql`
    select ingest_events(
      ${n.map((i) => `evt_b${i}`)}::text[], ${fill(appId)}::text[], ${fill('live')}::text[],
      ${n.map((i) => pks[i % DEVICES])}::bigint[], ${n.map((i) => `d${i % DEVICES}`)}::text[],
      ${n.map((i) => (purchase(i) ? 'purchase' : 'level_complete'))}::text[], ${fill('sdk')}::text[],
      ${n.map((i) => (purchase(i) ? '4.99' : null))}::numeric[], ${n.map((i) => (purchase(i) ? 'USD' : null))}::text[],
      ${fill(null)}::text[], ${fill(null)}::text[], ${n.map((i) => JSON.stringify({ level: i }))}::text[],
      ${fill(null)}::text[], ${fill('')}::text[], ${fill(new Date().toISOString())}::timestamptz[],
      ${fill(null)}::text[], 0::int, '{}'::text[], '{}'::text[], '{}'::bigint[], ${sql.json(DEFAULT_MAPPING)})`;
}

/** An app whose DEVICES devices are installed and attributed to Meta clicks (fbclid). */
async function attributedApp(q: Sql, orgId: string, tag: string) {
  const app = await createApp(q, orgId, AppCreate.parse({ name: tag }));
  const rows = await q<{ id: string }[]>`
    with d as (
      insert into devices (app_id, environment, device_id, platform, installed_at)
      select ${app.id}, 'live', 'd' || g, 'android', now() from generate_series(0, ${DEVICES - 1}::int) g
      returning id, device_id)
    insert into attributions (id, app_id, environment, device_pk, device_id, platform, network, match_type, fbclid, clicked_at, installed_at)
    select 'att_' || ${tag} || d.id, ${app.id}, 'live', d.id, d.device_id, 'android', 'meta', 'click_id', 'IwAR' || d.id, now() - interval '1 hour', now()
    from d
    returning device_pk as id`;
  return { id: app.id, pks: rows.map((r) => Number(r.id)) };
}
