/**
 * Diagnostic: events/s through the EventWriter alone (no HTTP), on a durable embedded PostgreSQL,
 * with a fixed number of events in flight. Shows what the database side of ingestion costs, and
 * with WITHOUT_ANALYTICS_TRIGGER=1 how much of it the analytics inbox trigger takes.
 *
 *   npx tsx bench/ingest/writer.ts
 *   INFLIGHT=400 CONCURRENCY=4 WITHOUT_ANALYTICS_TRIGGER=1 npx tsx bench/ingest/writer.ts
 */
import { benchOrganization, cpuMeter, formatCpu, postmasterPid } from '../support.ts';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createSql } from '../../src/db/client.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';
import { readEventBody } from '../../src/modules/tracking/sdk-body.ts';
import { EventWriter } from '../../src/modules/tracking/event-writer.ts';

const EVENTS = Number(process.env.EVENTS ?? 30_000);
const INFLIGHT = Number(process.env.INFLIGHT ?? 200);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 2);
const withoutTrigger = !!process.env.WITHOUT_ANALYTICS_TRIGGER;

const dir = mkdtempSync(path.join(tmpdir(), 'apprefer-writer-bench-'));
chmodSync(dir, 0o755);
const pg = await startEmbeddedPostgres(path.join(dir, 'pg')); // default durability
const sql = createSql(pg.url, { max: 10 });
try {
  const orgId = await benchOrganization(sql, pg.url);
  const app = await createApp(sql, orgId, AppCreate.parse({ name: 'FitTrack' }));
  if (withoutTrigger) await sql`alter table events disable trigger analytics_inbox_events`;
  // Diagnostic: SQL run before the measurement, e.g. SETUP_SQL='drop index events_log_name_idx'.
  if (process.env.SETUP_SQL) await sql.unsafe(process.env.SETUP_SQL);
  const writer = new EventWriter(sql, pino({ level: 'silent' }), { maxConcurrent: CONCURRENCY });
  let n = 0;
  const one = () =>
    writer.submit({
      appId: app.id,
      environment: 'live',
      source: 'sdk',
      flags: [],
      defaultCurrency: 'USD',
      receivedAt: new Date(),
      body: readEventBody({
        device_id: `d-${n % 5000}`,
        event_name: 'level_complete',
        properties: { level: n++, mode: 'hard' },
      }),
    });
  await Promise.all(Array.from({ length: 5000 }, one)); // warm-up: device stubs, caches
  const read = cpuMeter({ PostgreSQL: postmasterPid(path.join(dir, 'pg')) })();
  const start = performance.now();
  let issued = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const next = () => {
      if (issued >= EVENTS) return;
      issued++;
      one().then(() => (++done === EVENTS ? resolve() : next()), reject);
    };
    for (let i = 0; i < INFLIGHT; i++) next();
  });
  const perSecond = EVENTS / ((performance.now() - start) / 1000);
  const cpu = formatCpu(read(), EVENTS)
    .replace('per request', 'per event')
    .replace('load generator', 'writer');
  console.log(
    `EventWriter: ${Math.round(perSecond)} events/s (${EVENTS} events, ${INFLIGHT} in flight, ${CONCURRENCY} batches in flight, analytics inbox trigger ${withoutTrigger ? 'off' : 'on'}, fsync on)\n  ${cpu}`,
  );
} finally {
  await sql.end();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
