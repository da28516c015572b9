/**
 * SDK ingestion benchmark: `POST /api/track/event` (events/s), `POST /api/track/configure`
 * (configures/s) and both at once (1 configure : 10 events, a launch day) of a real `apprefer
 * serve` process with 1 million stored clicks, beside a bare node:http server answering the same
 * JSON, in the same run, with autocannon.
 *
 * Durable commits: an embedded PostgreSQL with default settings (fsync and synchronous_commit on).
 * After the run every answered event and configure is counted in the database.
 *
 *   npx tsx bench/ingest/run.ts                 # 15 s per measurement
 *   DURATION=20 CONNECTIONS=100 npx tsx bench/ingest/run.ts
 *   DATABASE_URL=postgres://… npx tsx bench/ingest/run.ts   # instead of an embedded PostgreSQL
 *   WITHOUT_ANALYTICS_TRIGGERS=1 npx tsx bench/ingest/run.ts  # diagnostic: rollup triggers off
 *   SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npx tsx bench/ingest/run.ts   # profile the server
 *   PROFILE=1 npx tsx bench/ingest/run.ts   # sample pg_stat_activity: where PostgreSQL time and waits go
 *   SETUP_SQL='alter table …' npx tsx bench/ingest/run.ts   # a schema variant, run after the migrations
 *   EVENTS=2000000 npx tsx bench/ingest/run.ts   # events already stored (a production-sized table)
 */
import autocannon from 'autocannon';
import {
  benchDatabase,
  benchOrganization,
  countSeqScans,
  freePort,
  cpuMeter,
  formatCpu,
  postmasterPid,
  sdkEventRequest,
  startServer,
  waitUntilUp,
} from '../support.ts';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createSql } from '../../src/db/client.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';
import { fold } from '../../src/modules/analytics/rollups.ts';

const DURATION = Number(process.env.DURATION ?? 15);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100);
const CLICKS = Number(process.env.CLICKS ?? 1_000_000);
/** Events stored before the run (default none): a production-sized events table. */
const EVENTS = Number(process.env.EVENTS ?? 0);
const WARMUP = 3;
const RUN = Date.now().toString(36); // unique per run, so runs can share a DATABASE_URL

/**
 * A sampling profile of PostgreSQL: every 2 ms, what each active backend of the server is doing
 * (statement, or the lock/IO it waits for). Samples × 2 ms ≈ backend time spent there.
 */
function sampleActivity(url: string) {
  const probe = createSql(url, { max: 1 });
  const counts = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const rows = await probe<{ what: string }[]>`
        select coalesce(wait_event_type || ':' || wait_event || ' ', '') || regexp_replace(left(query, 110), ${'\\s+'}, ' ', 'g') as what
        from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'`;
      samples++;
      for (const r of rows) counts.set(r.what, (counts.get(r.what) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const folds = () =>
    probe<{ folds: number; waiting: number }[]>`
      select (select folds::int from analytics_fold_state) as folds, (select count(*)::int from analytics_inbox) as waiting`;
  const before = folds().execute(); // (postgres.js runs a query only when asked)
  const statements = !!process.env.STATEMENTS;
  if (statements) probe`select pg_stat_statements_reset()`.execute();
  return async (label: string) => {
    running = false;
    await loop;
    const [[b], [a]] = [await before, await folds()];
    console.log(
      `\nanalytics folds during ${label}: ${a.folds - b.folds}; inbox rows waiting at the end: ${a.waiting}`,
    );
    if (statements) {
      // Time per statement (nested ones inside functions and triggers too), from pg_stat_statements.
      const top = await probe<{ query: string; calls: number; ms: number; rows: number }[]>`
        select regexp_replace(left(query, 100), ${'\\s+'}, ' ', 'g') as query, calls::int, total_exec_time::float8 as ms, rows::int
        from pg_stat_statements order by total_exec_time desc limit 14`;
      console.log(`\nStatements during ${label} (pg_stat_statements, nested ones included):`);
      for (const t of top)
        console.log(
          `  ${t.ms.toFixed(0).padStart(7)} ms ${String(t.calls).padStart(7)} calls ${((1000 * t.ms) / Math.max(1, t.calls)).toFixed(0).padStart(6)} µs/call  ${t.query}`,
        );
    }
    await probe.end();
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    console.log(
      `\nPostgreSQL activity during ${label}: ${samples} samples, ${(total / samples).toFixed(1)} busy backends on average`,
    );
    for (const [what, n] of [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 14))
      console.log(`  ${((100 * n) / total).toFixed(1).padStart(5)} %  ${what}`);
  };
}

const ip = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

/** Requests answered 200 per kind, counted as the answers arrive (all measurements). */
const answered = { event: 0, configure: 0 };

/** Events: a distinct device per 20 events and a distinct body per request (no dedup shortcut). */
function eventRequest(key: string, tag: string): autocannon.Request {
  return sdkEventRequest(
    key,
    (n) => ({
      device_id: `bench-${tag}-${RUN}-${n % 5000}`,
      event_name: 'level_complete',
      properties: { level: n, mode: 'hard' },
      revenue: n % 10 ? undefined : 4.99,
      currency: 'usd',
    }),
    (status) => {
      if (status === 200) answered.event++;
    },
  );
}

/**
 * Configures: every request a new device. Half carry the click id of a stored click (click_id
 * match); the others come from an IP with stored clicks (probabilistic lookup over 1 M clicks).
 */
function configureRequest(key: string, tag: string): autocannon.Request {
  let n = 0;
  return {
    method: 'POST',
    path: '/api/track/configure',
    onResponse: (status) => {
      if (status === 200) answered.configure++;
    },
    setupRequest: (req) => {
      n++;
      const click = 1 + Math.floor(Math.random() * CLICKS);
      const withClick = n % 2 === 0;
      return {
        ...req,
        headers: {
          ...req.headers,
          'content-type': 'application/json',
          'x-apprefer-key': key,
          'x-sdk-version': '0.4.1',
          'x-forwarded-for': ip(click),
        },
        body: JSON.stringify({
          device_id: `cfg-${tag}-${RUN}-${n}`,
          device_info: {
            platform: click % 2 ? 'ios' : 'android',
            os_version: '17.5.1',
            locale: 'en_US',
            timezone: 'Europe/London',
            model: 'Pixel 8',
            bundle_id: 'com.example.fittrack',
          },
          ar_click_id: withClick ? `arc_${RUN}${String(click).padStart(12, '0')}` : null,
          gaid: null,
          install_referrer: null,
          sdk_version: '0.4.1',
          is_debug: false,
        }),
      };
    },
  };
}

const measure = (port: number, seconds: number, requests: autocannon.Request[]) =>
  autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests,
  });
const measureEvents = (port: number, key: string, seconds: number, tag: string) =>
  measure(port, seconds, [eventRequest(key, tag)]);
const measureConfigures = (port: number, key: string, seconds: number, tag: string) =>
  measure(port, seconds, [configureRequest(key, tag)]);
/** Launch day: each connection sends one configure, then ten events, and again (1 : 10). */
const measureMixed = (port: number, key: string, seconds: number, tag: string) => {
  const event = eventRequest(key, tag);
  return measure(port, seconds, [configureRequest(key, tag), ...Array(10).fill(event)]);
};

// STATEMENTS=1 (with PROFILE=1) also reports pg_stat_statements per measurement (embedded PostgreSQL).
const db = await benchDatabase(
  'ingest-bench',
  undefined,
  process.env.STATEMENTS
    ? {
        extraFlags: [
          '-c',
          'shared_preload_libraries=pg_stat_statements',
          '-c',
          'pg_stat_statements.track=all',
        ],
      }
    : {},
);
const dbUrl = db.url;
const dir = db.dir;
const sql = createSql(dbUrl, { max: 2 });
const children: ChildProcess[] = [];
try {
  const orgId = await benchOrganization(sql, dbUrl);
  if (process.env.SETUP_SQL) await sql.unsafe(process.env.SETUP_SQL); // a schema variant to compare
  if (process.env.STATEMENTS) await sql`create extension if not exists pg_stat_statements`;
  const [{ fsync, sc }] = await sql<
    { fsync: string; sc: string }[]
  >`select current_setting('fsync') as fsync, current_setting('synchronous_commit') as sc`;
  const app = await createApp(
    sql,
    orgId,
    AppCreate.parse({
      name: 'FitTrack',
      ios: { bundleId: 'com.example.fittrack', appStoreId: '1234567890' },
      android: { packageName: 'com.example.fittrack' },
    }),
  );
  await sql`insert into links (id, app_id, name, network, custom_data) values (${`bench-${RUN}`}, ${app.id}, 'bench', 'meta', ${sql.json({ screen: 'paywall' })})`;

  const seedStart = Date.now();
  await sql`
    insert into clicks (id, app_id, link_id, environment, clicked_at, network, campaign, fbclid, query_params, ip, user_agent, platform, os_version, language)
    select 'arc_' || ${RUN}::text || lpad(g::text, 12, '0'), ${app.id}, ${`bench-${RUN}`}, 'live',
           now() - (g % (6 * 24 * 3600)) * interval '1 second', 'meta', 'summer_launch', 'IwAR' || g,
           json_build_object('fbclid', 'IwAR' || g, 'invite_code', 'K7P2QX'),
           ('10.' || ((g >> 16) & 255) || '.' || ((g >> 8) & 255) || '.' || (g & 255))::inet,
           'Mozilla/5.0', case when g % 2 = 1 then 'ios' else 'android' end, '17.5', 'en-US'
    from generate_series(1, ${CLICKS}::int) g`;
  if (EVENTS) {
    // Events already stored, as in production (ids as they were before they started with the
    // time). Triggers off: the history is not counted into the rollups, only its indexes matter;
    // source s2s: the check after the run counts the SDK events it sent.
    await sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      const [{ id: pk }] = await tx<{ id: string }[]>`
        insert into devices (app_id, environment, device_id) values (${app.id}, 'live', 'history') returning id`;
      await tx`
        insert into events (id, app_id, environment, device_pk, device_id, event_name, source, properties, occurred_at, received_at)
        select 'evt_' || left(md5(g::text), 16), ${app.id}, 'live', ${pk}, 'history', 'level_complete', 's2s', '{}',
               now() - interval '1 day', now() - interval '1 day'
        from generate_series(1, ${EVENTS}::int) g`;
    });
    await sql`vacuum analyze events`;
  }
  await sql`analyze clicks`;
  const seedSeconds = (Date.now() - seedStart) / 1000;
  // The analytics fold counts the seeded clicks now, not during the first measurement.
  const foldStart = Date.now();
  await fold(sql);
  const foldSeconds = (Date.now() - foldStart) / 1000;

  // Baseline: bare node:http.
  const barePort = await freePort();
  const bare = fork(path.join(import.meta.dirname, 'bare-server.mjs'), {
    env: { ...process.env, PORT: String(barePort) },
  });
  children.push(bare);
  await waitUntilUp(barePort, bare).catch(() => {});
  await measureEvents(barePort, 'x', WARMUP, 'bare');
  const baseEvents = await measureEvents(barePort, 'x', DURATION, 'bare');
  const baseConfigures = await measureConfigures(barePort, 'x', DURATION, 'bare');
  bare.kill('SIGTERM');

  // Second baseline: bare node:http committing each event body to the same PostgreSQL (group commit).
  const barePgPort = await freePort();
  const barePg = fork(path.join(import.meta.dirname, 'bare-pg-server.ts'), {
    env: { ...process.env, PORT: String(barePgPort), DATABASE_URL: dbUrl },
  });
  children.push(barePg);
  await waitUntilUp(barePgPort, barePg).catch(() => {});
  await measureEvents(barePgPort, 'x', WARMUP, 'bare');
  const barePgMeter = cpuMeter({ server: barePg.pid!, PostgreSQL: postmasterPid(db.pgDir) })();
  const barePgEvents = await measureEvents(barePgPort, 'x', DURATION, 'bare');
  const barePgCpu = formatCpu(barePgMeter(), barePgEvents.requests.total);
  barePg.kill('SIGTERM');

  // Diagnostic only: the analytics rollup triggers off, to separate their cost from ingestion's.
  const withoutTriggers = !!process.env.WITHOUT_ANALYTICS_TRIGGERS;
  if (withoutTriggers)
    for (const tbl of ['events', 'attributions', 'clicks'])
      await sql.unsafe(`alter table ${tbl} disable trigger user`);
  const seqScans = await countSeqScans(sql, [
    'clicks',
    'devices',
    'attributions',
    'events',
    'event_fingerprints',
  ]);

  // The platform: a real `apprefer serve` process.
  const { port, child: server, exited } = await startServer(dbUrl, path.join(dir, 'data'));
  children.push(server);
  answered.event = answered.configure = 0; // (the bare server's answers are not the platform's)
  await measureEvents(port, app.sdk_key_live, WARMUP, 'warm');
  const meter = cpuMeter({ server: server.pid!, PostgreSQL: postmasterPid(db.pgDir) });
  const metered = async (run: () => Promise<autocannon.Result>) => {
    const read = meter();
    const result = await run();
    return { result, cpu: formatCpu(read(), result.requests.total) };
  };
  const profile = !!process.env.PROFILE;
  let report = profile ? sampleActivity(dbUrl) : null;
  const { result: events, cpu: eventsCpu } = await metered(() =>
    measureEvents(port, app.sdk_key_live, DURATION, 'run'),
  );
  await report?.('events');
  report = profile ? sampleActivity(dbUrl) : null;
  const { result: configures, cpu: configuresCpu } = await metered(() =>
    measureConfigures(port, app.sdk_key_live, DURATION, 'run'),
  );
  await report?.('configures');
  report = profile ? sampleActivity(dbUrl) : null;
  const beforeMixed = { ...answered };
  const { result: mixed, cpu: mixedCpu } = await metered(() =>
    measureMixed(port, app.sdk_key_live, DURATION, 'mix'),
  );
  const mixedRates = {
    events: (answered.event - beforeMixed.event) / DURATION,
    configures: (answered.configure - beforeMixed.configure) / DURATION,
  };
  await report?.('the mixed run');
  server.kill('SIGTERM');
  const code = await exited;

  const [counts] = await sql<{ events: number; installs: number; click: number; prob: number }[]>`
    select (select count(*)::int from events where app_id = ${app.id} and source = 'sdk') as events,
           (select count(*)::int from attributions where app_id = ${app.id}) as installs,
           (select count(*)::int from attributions where app_id = ${app.id} and match_type = 'click_id') as click,
           (select count(*)::int from attributions where app_id = ${app.id} and match_type = 'probabilistic') as prob`;
  const answeredEvents = answered.event;
  const answeredConfigures = answered.configure;
  const row = (name: string, r: autocannon.Result) =>
    `${name.padEnd(30)} ${String(Math.round(r.requests.average)).padStart(7)} req/s   p50 ${String(r.latency.p50).padStart(4)} ms   p99 ${String(r.latency.p99).padStart(5)} ms   non-2xx ${r.non2xx + r.errors + r.timeouts}`;
  console.log(
    `\ningest benchmark: ${CONNECTIONS} connections, ${DURATION} s per measurement, ${CLICKS} stored clicks${EVENTS ? ` and ${EVENTS} events` : ''} (seeded in ${seedSeconds.toFixed(1)} s, folded into the rollups in ${foldSeconds.toFixed(1)} s), fsync=${fsync}, synchronous_commit=${sc}${withoutTriggers ? ', ANALYTICS TRIGGERS OFF (diagnostic)' : ''}`,
  );
  console.log(row('bare node:http, event body', baseEvents));
  console.log(row('bare node:http + PostgreSQL', barePgEvents));
  console.log(`  ${barePgCpu}`);
  console.log(row('POST /api/track/event', events));
  console.log(`  ${eventsCpu}`);
  console.log(
    `ratio (events / bare)          ${(events.requests.average / baseEvents.requests.average).toFixed(2)}   (target: ≥ 10 000 events/s, p99 < 30 ms)`,
  );
  console.log(row('bare node:http, configure body', baseConfigures));
  console.log(row('POST /api/track/configure', configures));
  console.log(`  ${configuresCpu}`);
  console.log(
    `ratio (configures / bare)      ${(configures.requests.average / baseConfigures.requests.average).toFixed(2)}   (target: ≥ 3 000 configures/s, p99 < 50 ms)`,
  );
  console.log(row('mixed, 1 configure : 10 events', mixed));
  console.log(`  ${mixedCpu}`);
  console.log(
    `  of which                     ${Math.round(mixedRates.configures)} configures/s (${((100 * mixedRates.configures) / configures.requests.average).toFixed(0)} % of alone) and ${Math.round(mixedRates.events)} events/s (${((100 * mixedRates.events) / events.requests.average).toFixed(0)} % of alone)`,
  );
  // Both share the machine: the fractions of each alone rate add up to the capacity the mix used.
  console.log(
    `  capacity used                ${(mixedRates.configures / configures.requests.average + mixedRates.events / events.requests.average).toFixed(2)} of the rates alone   (target ≥ 0.80)`,
  );
  // autocannon stops with up to CONNECTIONS requests in flight per measurement: the server still
  // commits those, so the store may hold a few more than were answered, never fewer.
  const slack = 4 * CONNECTIONS; // four measurements end with requests in flight
  const durable = (answered: number, stored: number) =>
    stored >= answered && stored - answered <= slack;
  console.log(
    `events answered 200 / stored   ${answeredEvents} / ${counts.events}   ${durable(answeredEvents, counts.events) ? 'every answered event stored' : 'MISMATCH'}`,
  );
  console.log(
    `configures answered / installs ${answeredConfigures} / ${counts.installs}   (click_id ${counts.click}, probabilistic ${counts.prob})   ${durable(answeredConfigures, counts.installs) ? 'every answered install stored' : 'MISMATCH'}   server exit ${code} after SIGTERM`,
  );
  console.log(await seqScans());
  process.exitCode =
    durable(answeredEvents, counts.events) && durable(answeredConfigures, counts.installs) ? 0 : 1;
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sql.end();
  await db.close();
}
