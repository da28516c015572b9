/**
 * Forwarding benchmark: SDK events in through `POST /api/track/event` of a real `apprefer serve`
 * process, for 5 000 devices attributed to Meta (fbclid), against a fake Conversions API answering
 * in 50 ms (a separate process). Each event body distinct. Two apps: `off` has no integration (the
 * outbox statement runs and writes nothing), `on` forwards to Meta. Phases:
 *  1. outbox only (Meta enabled but paused as `unauthorized`: deliveries recorded, not sent);
 *  2. the backlog of phase 1 sent with no ingestion: deliveries per second of the sender alone;
 *  3. forwarding on: ingestion and sending at once (deliveries sent during the `on` rounds).
 * In phases 1 and 3, rounds of the `off` app and the `on` app alternate and the medians are
 * compared: the machine's drift and the growing tables weigh on both sides alike.
 *
 *   npx tsx bench/forwarding/run.ts                   # 3 rounds of 10 s per side and phase
 *   ROUNDS=5 DURATION=15 CONNECTIONS=100 DELAY_MS=50 npx tsx bench/forwarding/run.ts
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import {
  benchDatabase,
  benchOrganization,
  cpuMeter,
  formatCpu,
  freePort,
  postmasterPid,
  roundsRow,
  sdkEventRequest,
  startServer,
  waitUntilUp,
} from '../support.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { encryptSecret } from '../../src/lib/crypto.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';

const DURATION = Number(process.env.DURATION ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100);
const DEVICES = 5000;
const WARMUP = 3;
const RUN = Date.now().toString(36);
const SECRET_KEY = `bench-forwarding-secret-${RUN}-0123456789abcdef`;

let measurements = 0;
/** Events of the `tag` app's attributed devices; every body distinct (no dedup shortcut). */
function measure(port: number, key: string, seconds: number, tag: string) {
  const m = ++measurements;
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      sdkEventRequest(key, (n) => ({
        device_id: `fwd-${tag}-${n % DEVICES}`,
        event_name: n % 10 ? 'level_complete' : 'purchase',
        properties: { level: n, run: `${RUN}-${m}` },
        revenue: n % 10 ? undefined : 4.99,
        currency: 'usd',
      })),
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

async function fakeCount(port: number) {
  return (await (await fetch(`http://127.0.0.1:${port}/count`)).json()) as {
    requests: number;
    events: number;
  };
}
/** Deliveries in these states. */
async function countDeliveries(sql: Sql, statuses: string[]) {
  const [r] = await sql<{ n: number }[]>`
    select count(*)::int as n from deliveries where status = any(${statuses})`;
  return r.n;
}
const open = (sql: Sql) => countDeliveries(sql, ['pending', 'retrying']);
const delivered = (sql: Sql) => countDeliveries(sql, ['delivered']);
async function untilDrained(sql: Sql) {
  while ((await open(sql)) > 0) await new Promise((res) => setTimeout(res, 50));
}

const db = await benchDatabase('forwarding-bench');
const sql = createSql(db.url, { max: 2 });
const children: ChildProcess[] = [];
try {
  const orgId = await benchOrganization(sql, db.url);
  const offApp = await attributedApp(sql, orgId, 'off');
  const onApp = await attributedApp(sql, orgId, 'on');
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
  const meter = cpuMeter({
    server: server.pid!,
    PostgreSQL: postmasterPid(db.pgDir),
    'fake Meta': fake.pid!,
  });
  /** A side's rounds: the CPU µs each process used and the events answered, summed. */
  type Cpu = { requests: number; us: Record<string, number> };
  const metered = async (cpu: Cpu, run: () => Promise<autocannon.Result>) => {
    const read = meter();
    const result = await run();
    for (const [k, us] of Object.entries(read())) cpu.us[k] = (cpu.us[k] ?? 0) + us;
    cpu.requests += result.requests.total;
    return result;
  };
  /** What the platform spends per event: the server and PostgreSQL. */
  const platformUs = (cpu: Cpu) => (cpu.us.server + cpu.us.PostgreSQL) / cpu.requests;

  /**
   * ROUNDS × (the `off` app, then the `on` app), each side's results in order. With `drain`, each
   * `on` round ends once its deliveries are all sent (the rate counts its DURATION only, the CPU
   * until then), so the `off` rounds carry no sending of their own.
   */
  async function alternate(drain: boolean) {
    const off: autocannon.Result[] = [];
    const on: autocannon.Result[] = [];
    const offCpu: Cpu = { requests: 0, us: {} };
    const onCpu: Cpu = { requests: 0, us: {} };
    let deliveredDuringOn = 0;
    for (let r = 0; r < ROUNDS; r++) {
      off.push(await metered(offCpu, () => measure(port, offApp.sdk_key_live, DURATION, 'off')));
      const before = await delivered(sql);
      const round = async () => {
        const result = await measure(port, onApp.sdk_key_live, DURATION, 'on');
        deliveredDuringOn += (await delivered(sql)) - before;
        // The round's CPU runs until its deliveries are sent: the sending is part of its cost.
        if (drain) await untilDrained(sql);
        return result;
      };
      on.push(await metered(onCpu, round));
    }
    return { off, on, offCpu, onCpu, deliveredDuringOn };
  }

  // Outbox only: Meta enabled but paused (`unauthorized`), so deliveries are recorded, not sent.
  await sql`
    insert into integrations (app_id, network, enabled, configured, status, settings, secrets)
    values (${onApp.id}, 'meta', true, true, 'unauthorized', ${sql.json({ datasetId: '1234567890' })},
            ${sql.json({ accessToken: { enc: encryptSecret(Buffer.from(SECRET_KEY), 'EAAB-bench-token'), last4: 'oken' } })})`;
  await measure(port, offApp.sdk_key_live, WARMUP, 'off');
  await measure(port, onApp.sdk_key_live, WARMUP, 'on');
  const paused = await alternate(false);

  // Sending alone: the backlog drains with no ingestion.
  const fakeBefore = await fakeCount(fakePort);
  const backlog = await open(sql);
  const drainStart = Date.now();
  await sql`update integrations set status = 'ok' where app_id = ${onApp.id}`;
  await untilDrained(sql);
  const drainS = (Date.now() - drainStart) / 1000;
  const fakeAfter = await fakeCount(fakePort);

  // Both at once: ingest while sending.
  const sending = await alternate(true);
  await untilDrained(sql);
  const [{ notDelivered }] = await sql<{ notDelivered: number }[]>`
    select count(*)::int as "notDelivered" from deliveries where status <> 'delivered'`;
  server.kill('SIGTERM');
  await exited;

  const rows = {
    pausedOff: roundsRow('forwarding off', paused.off),
    pausedOn: roundsRow('outbox only (sending paused)', paused.on),
    sendingOff: roundsRow('forwarding off', sending.off),
    sendingOn: roundsRow('forwarding on (sending)', sending.on),
  };
  console.log(
    `\nforwarding benchmark: ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s per side, fake Meta answering in ${process.env.DELAY_MS ?? 50} ms; 1 in 10 events a purchase; SDK events/s`,
  );
  console.log('phase 1, alternating:');
  console.log(`  ${rows.pausedOff.line}`);
  console.log(`    ${formatCpu(paused.offCpu.us, paused.offCpu.requests)}`);
  console.log(`  ${rows.pausedOn.line}`);
  console.log(`    ${formatCpu(paused.onCpu.us, paused.onCpu.requests)}`);
  console.log('phase 3, alternating:');
  console.log(`  ${rows.sendingOff.line}`);
  console.log(`    ${formatCpu(sending.offCpu.us, sending.offCpu.requests)}`);
  console.log(`  ${rows.sendingOn.line}`);
  console.log(`    ${formatCpu(sending.onCpu.us, sending.onCpu.requests)}`);
  console.log(
    `ingest / off (medians)             outbox only ${(rows.pausedOn.rps / rows.pausedOff.rps).toFixed(3)}, sending ${(rows.sendingOn.rps / rows.sendingOff.rps).toFixed(3)}   (target ≥ 0.85)`,
  );
  // The platform's own cost per event (server and PostgreSQL CPU), off against on: steadier than
  // the rates on a shared machine, and without the fake network's and the load generator's share.
  console.log(
    `platform CPU per event, on / off   outbox only ${(platformUs(paused.onCpu) / platformUs(paused.offCpu)).toFixed(3)}, sending ${(platformUs(sending.onCpu) / platformUs(sending.offCpu)).toFixed(3)}   (server + PostgreSQL)`,
  );
  console.log(
    `deliveries, backlog alone          ${backlog} in ${drainS.toFixed(2)} s = ${Math.round(backlog / drainS)}/s   (${fakeAfter.requests - fakeBefore.requests} requests, ${fakeAfter.events - fakeBefore.events} events)   (target ≥ 2 000/s)`,
  );
  console.log(
    `deliveries, during the on rounds   ${sending.deliveredDuringOn} in ${ROUNDS * DURATION} s = ${Math.round(sending.deliveredDuringOn / (ROUNDS * DURATION))}/s (ingestion first: a trickle while it backs up)   not delivered once drained: ${notDelivered}`,
  );
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sql.end();
  await db.close();
}
