/**
 * Diagnostic: what one event costs PostgreSQL inside the event batch statement, without HTTP,
 * without a second backend and without the rest of the machine's load: a single session runs
 * batches of N events back to back (each its own durable transaction) and reads its backend's CPU
 * time from /proc and the WAL it wrote. Schema variants alternate with the base in every round,
 * so each pair is measured under the same conditions.
 *
 *   npx tsx bench/ingest/statement.ts
 *   MODE=plain VARIANTS='base;alter table events drop constraint x|alter table events add constraint x …' npx tsx bench/ingest/statement.ts
 *
 * MODE: `ingest` (default; `select ingest_events(…)`, as the EventWriter sends it), `plain` (a
 * bare `insert into events … select from unnest(…)`: the table, its indexes and triggers alone),
 * `bare` (one jsonb column and a primary key: the floor). VARIANTS: `;`-separated `setup|undo`
 * SQL pairs, `base` for none. Env N (events per statement), CALLS (statements per measurement),
 * ROUNDS, NOFP=1 (events without a dedup fingerprint), FORWARD=1 (every device attributed to a Meta
 * click and Meta enabled but paused: each event also records a delivery, the conversion outbox),
 * HISTORY=n (n events stored first, under random ids), SORTED=1 (new events get the product's
 * time-ordered ids instead of random ones), FINGERPRINTS=n (n dedup fingerprints stored first; the
 * schema before migration 0020 too).
 */
import { benchOrganization, cpuMeter, median } from '../support.ts';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { createSql } from '../../src/db/client.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';
import { DEFAULT_MAPPING } from '../../src/modules/integrations/outbox.ts';
import { newTimeOrderedId } from '../../src/lib/crypto.ts';

const N = Number(process.env.N ?? 22);
const CALLS = Number(process.env.CALLS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MODE = process.env.MODE ?? 'ingest';
const variants = (process.env.VARIANTS ?? 'base').split(';');

const dir = mkdtempSync(path.join(tmpdir(), 'apprefer-statement-bench-'));
chmodSync(dir, 0o755);
const pg = await startEmbeddedPostgres(path.join(dir, 'pg')); // default durability
const sql = createSql(pg.url, { max: 1, keyLookups: true });

try {
  const orgId = await benchOrganization(sql, pg.url);
  const app = await createApp(sql, orgId, AppCreate.parse({ name: 'FitTrack' }));
  const devices = await sql<{ id: string }[]>`
    insert into devices (app_id, environment, device_id)
    select ${app.id}, 'live', 'd-' || g from generate_series(1, 5000) g returning id`;
  if (process.env.FORWARD) {
    await sql`
      insert into attributions (id, app_id, environment, device_pk, device_id, platform, network, match_type, fbclid, clicked_at, installed_at)
      select 'att_' || d.id, ${app.id}, 'live', d.id, d.device_id, 'android', 'meta', 'click_id', 'IwAR' || d.id, now() - interval '1 hour', now()
      from devices d where d.app_id = ${app.id}`;
    await sql`
      insert into integrations (app_id, network, enabled, configured, status, settings, secrets)
      values (${app.id}, 'meta', true, true, 'unauthorized', ${sql.json({ datasetId: '1' })}, '{}')`;
  }
  if (process.env.HISTORY) {
    // Events already stored under random ids (the format before time order): a large primary key.
    await sql`
      insert into events (id, app_id, environment, device_pk, device_id, event_name, source, properties, occurred_at, received_at)
      select 'evt_' || left(md5(g::text), 16), ${app.id}, 'live', ${devices[0].id}, 'd-1', 'level_complete', 'sdk', '{}', now(), now()
      from generate_series(1, ${Number(process.env.HISTORY)}::int) g`;
    await sql`vacuum analyze events`;
  }
  if (process.env.FINGERPRINTS) {
    // The dedup table as it stands at a steady rate (it keeps 240 s: 2.4 million rows at 10 000/s).
    const [{ old }] = await sql<{ old: boolean }[]>`
      select exists (select 1 from information_schema.columns
                     where table_name = 'event_fingerprints' and column_name = 'app_id') as old`;
    const n = Number(process.env.FINGERPRINTS);
    if (old)
      await sql`insert into event_fingerprints select ${app.id}, 'live', sha256(g::text::bytea), now() from generate_series(1, ${n}::int) g`;
    else
      await sql`insert into event_fingerprints select md5(g::text)::uuid, now() from generate_series(1, ${n}::int) g`;
    await sql`vacuum analyze event_fingerprints`;
  }
  await sql`create table bare (id bigserial primary key, body jsonb not null)`;
  const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;

  let n = 0;
  const batch = () => {
    const rows = Array.from({ length: N }, () => {
      const i = n++;
      return {
        id: process.env.SORTED
          ? newTimeOrderedId('evt')
          : `evt_${randomUUID().replaceAll('-', '').slice(0, 16)}`, // the format before time order
        pk: devices[i % devices.length].id,
        device: `d-${(i % devices.length) + 1}`,
        props: JSON.stringify({ level: i, mode: 'hard' }),
        fp: process.env.NOFP
          ? null
          : createHash('sha256').update(`${i}:${Math.random()}`).digest('hex').slice(0, 32),
        at: new Date().toISOString(),
      };
    });
    const col = (f: (r: (typeof rows)[number]) => unknown) => rows.map(f) as never;
    if (MODE === 'bare')
      return sql`insert into bare (body) select unnest(${col((r) => r.props)}::jsonb[])`;
    if (MODE === 'plain')
      return sql`
        insert into events (id, app_id, environment, device_pk, device_id, event_name, source, properties, occurred_at, received_at)
        select * from unnest(${col((r) => r.id)}::text[], ${col(() => app.id)}::text[], ${col(() => 'live')}::text[],
          ${col((r) => r.pk)}::bigint[], ${col((r) => r.device)}::text[], ${col(() => 'level_complete')}::text[],
          ${col(() => 'sdk')}::text[], ${col((r) => r.props)}::jsonb[], ${col((r) => r.at)}::timestamptz[], ${col((r) => r.at)}::timestamptz[])`;
    return sql`
      select ingest_events(${col((r) => r.id)}::text[], ${col(() => app.id)}::text[], ${col(() => 'live')}::text[],
        ${col((r) => r.pk)}::bigint[], ${col((r) => r.device)}::text[], ${col(() => 'level_complete')}::text[],
        ${col(() => 'sdk')}::text[], ${col(() => null)}::numeric[], ${col(() => null)}::text[], ${col(() => null)}::text[],
        ${col(() => null)}::text[], ${col((r) => r.props)}::text[], ${col(() => null)}::text[], ${col(() => '')}::text[],
        ${col((r) => r.at)}::timestamptz[], ${col((r) => r.fp)}::text[], 120::int, ${[]}::text[], ${[]}::text[],
        ${[]}::bigint[], ${sql.json(DEFAULT_MAPPING)})`;
  };

  for (let i = 0; i < 300; i++) await batch(); // warm-up: plans, caches
  const cpu: Record<string, number[]> = {};
  console.log(`${MODE}: ${N} events per statement, ${CALLS} statements per measurement`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of variants) {
      const [setup, undo] = v === 'base' ? ['', ''] : v.split('|');
      if (setup) await sql.unsafe(setup);
      await sql`checkpoint`; // every measurement starts after a checkpoint (same full-page images)
      const [{ lsn }] = await sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
      const read = cpuMeter({ backend: pid })();
      const t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await batch();
      const wallUs = ((performance.now() - t0) * 1000) / (CALLS * N);
      const cpuUs = read().backend / (CALLS * N);
      const [{ bytes }] = await sql<{ bytes: number }[]>`
        select (pg_current_wal_lsn() - ${lsn}::pg_lsn)::float8 as bytes`;
      (cpu[v] ??= []).push(cpuUs);
      console.log(
        `  ${v.slice(0, 60).padEnd(60)} backend CPU ${cpuUs.toFixed(1).padStart(5)} µs/event   WAL ${(bytes / (CALLS * N)).toFixed(0).padStart(5)} B/event   wall ${wallUs.toFixed(1)} µs/event`,
      );
      if (undo) await sql.unsafe(undo);
    }
  }
  for (const [v, xs] of Object.entries(cpu))
    console.log(
      `median ${v.slice(0, 60).padEnd(60)} backend CPU ${median(xs).toFixed(1)} µs/event`,
    );
} finally {
  await sql.end();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
