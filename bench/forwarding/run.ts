/**
 * Forwarding benchmark: SDK events in through `POST /api/track/event` of a real `apprefer serve`
 * process, for devices attributed to Meta (fbclid), with forwarding off (the app has no
 * integration) and on (Meta enabled, a fake Conversions API answering in 50 ms). Prints the
 * event-ingest rate of both runs beside each other and the deliveries per second of the on run.
 *
 *   npx tsx bench/forwarding/run.ts                   # 15 s per measurement
 *   DURATION=20 CONNECTIONS=100 DELAY_MS=50 npx tsx bench/forwarding/run.ts
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { benchDatabase, freePort, startServer, waitUntilUp } from '../support.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { encryptSecret } from '../../src/lib/crypto.ts';
import { createOrganizationWithOwner } from '../../src/modules/auth/accounts.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';

const DURATION = Number(process.env.DURATION ?? 15);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100);
const DEVICES = 5000;
const WARMUP = 3;
const RUN = Date.now().toString(36);
const SECRET_KEY = `bench-forwarding-secret-${RUN}-0123456789abcdef`;

function measure(port: number, key: string, seconds: number, tag: string) {
  let n = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/api/track/event',
        setupRequest: (req) => {
          n++;
          return {
            ...req,
            headers: {
              ...req.headers,
              'content-type': 'application/json; charset=utf-8',
              'x-apprefer-key': key,
              'x-sdk-version': '0.4.0',
            },
            body: JSON.stringify({
              device_id: `fwd-${tag}-${n % DEVICES}`,
              event_name: n % 10 ? 'level_complete' : 'purchase',
              properties: { level: n, run: tag },
              revenue: n % 10 ? undefined : 4.99,
              currency: 'usd',
            }),
          };
        },
      },
    ],
  });
}

/** An app whose DEVICES devices (`fwd-{tag}-{i}`) are installed and attributed to Meta clicks. */
async function attributedApp(sql: Sql, orgId: string, tag: string) {
  const app = await createApp(
    sql,
    orgId,
    AppCreate.parse({ name: `FitTrack ${tag}`, android: { packageName: 'com.example.fittrack' } }),
  );
  await sql`
    with d as (
      insert into devices (app_id, environment, device_id, platform, installed_at, os_version, user_agent)
      select ${app.id}, 'live', ${`fwd-${tag}-`} || g, 'android', now(), '14', 'FitTrack/1.0'
      from generate_series(0, ${DEVICES - 1}::int) g
      returning id, device_id)
    insert into attributions (id, app_id, environment, device_pk, device_id, platform, network, match_type, fbclid, clicked_at, installed_at)
    select 'att_' || ${tag} || d.id, ${app.id}, 'live', d.id, d.device_id, 'android', 'meta', 'click_id', 'IwAR' || d.id, now() - interval '1 hour', now()
    from d`;
  return app;
}

const db = await benchDatabase('forwarding-bench');
const sql = createSql(db.url, { max: 2 });
const children: ChildProcess[] = [];
try {
  await migrate(sql, db.url);
  const { organization } = await createOrganizationWithOwner(sql, {
    org: `Bench ${RUN}`,
    email: `bench${RUN}@example.com`,
    password: 'correct horse battery',
  });
  const off = await attributedApp(sql, organization.id, 'off');
  const on = await attributedApp(sql, organization.id, 'on');
  await sql`analyze`;

  const fakePort = await freePort();
  const fake = fork(path.join(import.meta.dirname, 'fake-meta.mjs'), {
    env: { ...process.env, PORT: String(fakePort) },
  });
  children.push(fake);
  await waitUntilUp(fakePort, fake).catch(() => {});

  process.env.SECRET_KEY = SECRET_KEY;
  process.env.META_GRAPH_URL = `http://127.0.0.1:${fakePort}/v24.0/`;
  const { port, child: server, exited } = await startServer(db.url, path.join(db.dir, 'data'));
  children.push(server);

  // Forwarding off: the app has no integration (the outbox statement runs and writes nothing).
  await measure(port, off.sdk_key_live, WARMUP, 'off');
  const offRun = await measure(port, off.sdk_key_live, DURATION, 'off');

  // Forwarding on: Meta enabled and configured for the other app.
  await sql`
    insert into integrations (app_id, network, enabled, configured, settings, secrets)
    values (${on.id}, 'meta', true, true, ${sql.json({ datasetId: '1234567890' })},
            ${sql.json({ accessToken: { enc: encryptSecret(Buffer.from(SECRET_KEY), 'EAAB-bench-token'), last4: 'oken' } })})`;
  await measure(port, on.sdk_key_live, WARMUP, 'on');
  await sql`delete from deliveries`; // the warm-up's deliveries are not counted
  const started = Date.now();
  const onRun = await measure(port, on.sdk_key_live, DURATION, 'on');
  const ingestEnd = Date.now();
  const [during] = await sql<{ delivered: number; total: number }[]>`
    select count(*) filter (where status = 'delivered')::int as delivered, count(*)::int as total from deliveries`;
  const drained = await (async () => {
    for (;;) {
      const [r] = await sql<{ open: number; failed: number; total: number }[]>`
        select count(*) filter (where status in ('pending', 'retrying'))::int as open,
               count(*) filter (where status in ('failed', 'skipped'))::int as failed, count(*)::int as total
        from deliveries`;
      if (r.open === 0) return { ...r, at: Date.now() };
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  const fakeCount = (await (await fetch(`http://127.0.0.1:${fakePort}/count`)).json()) as {
    requests: number;
    events: number;
  };
  server.kill('SIGTERM');
  await exited;

  const row = (name: string, r: autocannon.Result) =>
    `${name.padEnd(34)} ${String(Math.round(r.requests.average)).padStart(7)} events/s   p50 ${String(r.latency.p50).padStart(4)} ms   p99 ${String(r.latency.p99).padStart(5)} ms   non-2xx ${r.non2xx + r.errors + r.timeouts}`;
  const ratio = onRun.requests.average / offRun.requests.average;
  const ingestS = (ingestEnd - started) / 1000;
  const totalS = (drained.at - started) / 1000;
  console.log(
    `\nforwarding benchmark: ${CONNECTIONS} connections, ${DURATION} s per run, fake Meta answering in ${process.env.DELAY_MS ?? 50} ms`,
  );
  console.log(row('event ingest, forwarding off', offRun));
  console.log(row('event ingest, forwarding on (Meta)', onRun));
  console.log(`ingest on / off                    ${ratio.toFixed(3)}   (target ≥ 0.85)`);
  console.log(
    `deliveries                         ${drained.total} recorded, ${during.delivered} delivered during ingest (${Math.round(during.delivered / ingestS)}/s), all ${drained.total - drained.failed} delivered ${totalS.toFixed(1)} s after the start (${Math.round((drained.total - drained.failed) / totalS)}/s)   (target ≥ 2 000/s)`,
  );
  console.log(
    `fake Meta                          ${fakeCount.requests} requests, ${fakeCount.events} events (${(fakeCount.events / Math.max(1, fakeCount.requests)).toFixed(0)} per request); failed or skipped ${drained.failed}`,
  );
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sql.end();
  await db.close();
}
