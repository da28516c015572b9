/**
 * RevenueCat webhook benchmark: deliveries per second through `POST /api/webhook/revenuecat/{appId}`
 * of a real `apprefer serve` process (Authorization check, parse, device lookup, durable insert of
 * the dedup record and the event, outbox) beside a bare node:http server that only parses the JSON
 * and answers 200, in the same run, alternating, with autocannon. Then SIGTERM the server and count
 * the stored events: every delivery answered 200 must be there.
 *
 * Each request is the §4.4 trial-conversion example with a distinct event id, for one of 1 000
 * devices (the first delivery of a device creates it as a stub; later ones find it).
 *
 * Then the storm's effect on SDK ingestion: `POST /api/track/event` alone, and again while a
 * webhook storm runs at the same time (issue 12: a storm must not slow SDK ingestion).
 *
 *   npx tsx bench/webhooks/run.ts                 # 3 rounds of 10 s per server, 100 connections
 *   DURATION=20 ROUNDS=5 CONNECTIONS=100 npx tsx bench/webhooks/run.ts
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createSql } from '../../src/db/client.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';
import { RC_TRIAL_CONVERTED } from '../../src/modules/webhooks/fixtures.ts';
import { patchRevenueCat } from '../../src/modules/webhooks/settings.ts';
import {
  benchDatabase,
  benchOrganization,
  countSeqScans,
  freePort,
  roundsRow,
  sdkEventRequest,
  startServer,
  waitUntilUp,
} from '../support.ts';

const step = (msg: string) => process.stderr.write(`… ${msg}\n`);
const DURATION = Number(process.env.DURATION ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100);
const WARMUP = 3;
const RUN = Date.now().toString(36);

const template = JSON.parse(RC_TRIAL_CONVERTED);
let n = 0;
const body = () => {
  n++;
  template.event.id = `bench-${RUN}-${n}`;
  template.event.subscriber_attributes.appreferId.value = `bench-device-${n % 1000}`;
  return JSON.stringify(template);
};

const measure = (port: number, seconds: number, url: string, secret: string) =>
  autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: url,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
        setupRequest: (req) => ({ ...req, body: body() }),
      },
    ],
  });

let e = 0;
const measureEvents = (port: number, seconds: number, key: string) =>
  autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      // A counter across measurements: event ids stay unique from run to run.
      sdkEventRequest(key, () => {
        e++;
        return {
          device_id: `sdk-device-${e % 1000}`,
          event_name: 'level_complete',
          event_id: `sdk-${RUN}-${e}`,
          properties: { level: e % 50 },
        };
      }),
    ],
  });

const db = await benchDatabase('webhooks-bench', step);
const sql = createSql(db.url, { max: 2 });
const children: ChildProcess[] = [];
try {
  const orgId = await benchOrganization(sql, db.url);
  const app = await createApp(
    sql,
    orgId,
    AppCreate.parse({ name: 'FitTrack', ios: { bundleId: 'com.example.fittrack' } }),
  );
  const { secret } = await patchRevenueCat(sql, app.id, { enabled: true });
  const url = `/api/webhook/revenuecat/${app.id}`;

  const barePort = await freePort();
  const bare = fork(path.join(import.meta.dirname, '..', 'bare-json-server.mjs'), {
    env: { ...process.env, PORT: String(barePort) },
  });
  children.push(bare);
  await waitUntilUp(barePort, bare);
  const seqScans = await countSeqScans(sql, [
    'devices',
    'device_users',
    'events',
    'webhook_events',
    'qualified_trials',
  ]);
  const { port, child: server, exited } = await startServer(db.url, path.join(db.dir, 'data'));
  children.push(server);

  step(`warming up (${WARMUP} s each)`);
  await measure(barePort, WARMUP, url, secret!);
  let answered = (await measure(port, WARMUP, url, secret!))['2xx'];
  const bareRuns: autocannon.Result[] = [];
  const hookRuns: autocannon.Result[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    step(`round ${round}/${ROUNDS}: bare node:http, then the receiver (${DURATION} s each)`);
    bareRuns.push(await measure(barePort, DURATION, url, secret!));
    const r = await measure(port, DURATION, url, secret!);
    hookRuns.push(r);
    answered += r['2xx'];
  }
  step(`SDK events alone, then during a webhook storm (${DURATION} s each)`);
  const eventsAlone = await measureEvents(port, DURATION, app.sdk_key_live);
  const [eventsDuring, storm] = await Promise.all([
    measureEvents(port, DURATION, app.sdk_key_live),
    measure(port, DURATION, url, secret!),
  ]);
  answered += storm['2xx'];
  step('SIGTERM, then counting events');
  server.kill('SIGTERM');
  const code = await exited;
  const [{ stored }] = await sql<{ stored: number }[]>`
    select count(*)::int as stored from events where app_id = ${app.id} and source = 'revenuecat'`;

  const b = roundsRow('bare node:http JSON 200', bareRuns);
  const h = roundsRow('RevenueCat receiver (record)', hookRuns);
  console.log(
    `\nRevenueCat webhook benchmark: ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION} s, medians`,
  );
  console.log(b.line);
  console.log(h.line);
  console.log(
    `ratio (receiver / bare)            ${(h.rps / b.rps).toFixed(2)}   (target ≥ 2 000 deliveries/s)`,
  );
  const sdk = (r: autocannon.Result) =>
    `${String(Math.round(r.requests.average)).padStart(7)} req/s   p99 ${r.latency.p99} ms   (not 200: ${r.non2xx + r.errors + r.timeouts})`;
  console.log(`SDK events alone                  ${sdk(eventsAlone)}`);
  console.log(
    `SDK events during a webhook storm ${sdk(eventsDuring)}   (storm meanwhile: ${Math.round(storm.requests.average)} webhooks/s)`,
  );
  const ok = stored >= answered && stored <= answered + CONNECTIONS * (ROUNDS + 2);
  console.log(
    `deliveries answered 200 / stored   ${answered} / ${stored}   ${ok ? 'every answered delivery stored' : 'DELIVERIES MISSING'} (server exit code ${code} after SIGTERM)`,
  );
  console.log(await seqScans());
  process.exitCode = ok ? 0 : 1;
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sql.end();
  await db.close();
}
