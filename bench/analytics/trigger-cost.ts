/**
 * What the analytics inbox triggers (migration 0015) add to the write paths: the same event inserts (one per statement,
 * then batches of 100 as the event writer groups them) and click batches, with the analytics
 * triggers on and off (session_replication_role = replica), in the same run.
 *
 *   npx tsx bench/analytics/trigger-cost.ts
 */
import { benchOrganization } from '../support.ts';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSql, type Sql } from '../../src/db/client.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';

const N = Number(process.env.N ?? 3000);
const dir = mkdtempSync(path.join(tmpdir(), 'apprefer-trigger-bench-'));
chmodSync(dir, 0o755);
const pg = await startEmbeddedPostgres(dir);
const sql = createSql(pg.url, { max: 4 });
let seq = 0;

try {
  const orgId = await benchOrganization(sql, pg.url);
  const app = await createApp(
    sql,
    orgId,
    AppCreate.parse({ name: 'B', timezone: 'Europe/Berlin' }),
  );
  await sql`
    insert into devices (app_id, environment, device_id, platform)
    select ${app.id}, 'live', 'd' || g, 'ios' from generate_series(1, 1000) g`;
  await sql`
    insert into attributions (id, app_id, environment, device_pk, device_id, platform, network, match_type, campaign, installed_at)
    select 'att_' || id, app_id, 'live', id, device_id, 'ios', 'meta', 'click_id', 'c1', now() from devices`;

  console.log(
    'statement'.padEnd(44),
    'triggers on'.padStart(14),
    'off'.padStart(10),
    '(ms per statement, median of 3 runs)',
  );
  for (const [name, fn] of [
    ['1 event per statement', (db: Sql) => insertEvents(db, app.id, 1)],
    ['100 events per statement', (db: Sql) => insertEvents(db, app.id, 100)],
    ['100 clicks per statement', (db: Sql) => insertClicks(db, app.id, 100)],
  ] as const) {
    const per = name.startsWith('1 ') ? N : Math.ceil(N / 20);
    const on = await timed(per, fn, false);
    const off = await timed(per, fn, true);
    console.log(name.padEnd(44), on.toFixed(3).padStart(14), off.toFixed(3).padStart(10));
  }
} finally {
  await sql.end({ timeout: 5 });
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}

async function timed(n: number, fn: (db: Sql) => Promise<unknown>, triggersOff: boolean) {
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const db = await sql.reserve();
    try {
      await db`select set_config('session_replication_role', ${triggersOff ? 'replica' : 'origin'}, false)`;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await fn(db as unknown as Sql);
      runs.push((performance.now() - t0) / n);
    } finally {
      db.release();
    }
  }
  return runs.sort((a, b) => a - b)[1];
}

function insertEvents(db: Sql, appId: string, n: number) {
  const ids = Array.from({ length: n }, () => `evt_b${++seq}`);
  return db`
    insert into events (id, app_id, environment, device_pk, device_id, event_name, source, revenue, currency, occurred_at, received_at)
    select x.id, ${appId}, 'live', d.id, d.device_id, case when random() < 0.1 then 'purchase' else 'session_start' end, 'sdk',
           case when random() < 0.1 then 9.99 end, 'EUR', now(), now()
    from unnest(${ids}::text[]) with ordinality as x(id, n)
    join devices d on d.id = 1 + (x.n * 7 + ${seq}) % 1000`;
}

function insertClicks(db: Sql, appId: string, n: number) {
  const ids = Array.from({ length: n }, () => `arc_b${++seq}`);
  return db`
    insert into clicks (id, app_id, link_id, environment, clicked_at, network, campaign, platform, country)
    select id, ${appId}, 'l1', 'live', now(), 'meta', 'c' || (random() * 5)::int, 'ios', 'DE' from unnest(${ids}::text[]) id`;
}
