import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createTestDatabase, eventually } from '../../../test/helpers.ts';
import { freePort } from '../../lib/net.ts';
import { buildClick, newClickId } from './capture.ts';
import { describeUserAgent } from './user-agent.ts';
import { parseClickQuery } from './params.ts';
import { JOBS } from '../../jobs.ts';
import { enqueueJob } from '../../queue/enqueue.ts';
import { startJobRunner } from '../../queue/runner.ts';
import { servicesFor } from '../../queue/test-support.ts';
import { deleteExpiredClicks } from './retention.ts';
import { ClickWriter, COLUMNS, copyLine, type ClickRow } from './writer.ts';
import { UA } from './ua.fixtures.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

const log = pino({ level: 'silent' });
const link = {
  id: 'writer-link',
  appId: 'app_00000000001',
  appName: 'X',
  network: 'meta' as const,
  campaignName: null,
  destinations: { ios: null, android: null, web: null },
};
const row = (linkId: string, over: Partial<ClickRow> = {}): ClickRow => ({
  ...buildClick(
    { ...link, id: linkId },
    parseClickQuery('fbclid=x&invite=1'),
    {
      at: new Date(),
      ip: '203.0.113.7',
      userAgent: UA.iphoneSafari,
      referer: null,
      language: 'en',
      country: null,
      device: describeUserAgent(UA.iphoneSafari),
      botReason: null,
      source: 'redirect',
    },
    newClickId(),
  ),
  ...over,
});
const count = async (linkId: string) =>
  Number((await db.sql`select count(*)::int as n from clicks where link_id = ${linkId}`)[0].n);

describe('ClickWriter', () => {
  it('encodes a click as one COPY line, columns in COLUMNS order', () => {
    const r = row('order', {
      country: 'DE',
      referer: 'https://example.com/',
      is_bot: true,
      bot_reason: 'user_agent',
    });
    const fields = copyLine(r).split('\t');
    expect(fields).toHaveLength(COLUMNS.length);
    expect(fields.at(-1)!.endsWith('\n')).toBe(true);
    fields[fields.length - 1] = fields.at(-1)!.slice(0, -1);
    const text = (v: unknown) =>
      v === null
        ? '\\N'
        : v instanceof Date
          ? v.toISOString()
          : typeof v === 'boolean'
            ? v
              ? 't'
              : 'f'
            : typeof v === 'object'
              ? JSON.stringify(v)
              : String(v);
    expect(Object.fromEntries(COLUMNS.map((c, i) => [c, fields[i]]))).toEqual(
      Object.fromEntries(COLUMNS.map((c) => [c, text(r[c])])),
    );
  });

  it('writes every click in batches, with its jsonb parameters', async () => {
    const w = new ClickWriter(db.url, log, {
      batchSize: 100,
      flushIntervalMs: 5,
      maxPending: 10_000,
      closeTimeoutMs: 5_000,
    });
    for (let i = 0; i < 1_050; i++) w.add(row('batch'));
    await w.close();
    expect(await count('batch')).toBe(1_050);
    const [c] =
      await db.sql`select query_params, host(ip) as ip from clicks where link_id = 'batch' limit 1`;
    expect(c).toEqual({ query_params: { fbclid: 'x', invite: '1' }, ip: '203.0.113.7' });
  });

  it('keeps tabs, newlines, backslashes, \\N and Unicode intact', async () => {
    const w = new ClickWriter(db.url, log, {
      batchSize: 100,
      flushIntervalMs: 5,
      maxPending: 10_000,
      closeTimeoutMs: 5_000,
    });
    const tricky = 'a\tb\nc\rd\\e \\N "q" 東京 🚀';
    w.add(
      row('tricky', {
        user_agent: tricky,
        campaign: '\\N',
        query_params: { [tricky]: tricky, quote: '"\\' },
      }),
    );
    await w.close();
    const [c] =
      await db.sql`select user_agent, campaign, query_params from clicks where link_id = 'tricky'`;
    expect(c).toEqual({
      user_agent: tricky,
      campaign: '\\N',
      query_params: { [tricky]: tricky, quote: '"\\' },
    });
  });

  it('applies backpressure: a producer that awaits add() never has more than maxPending clicks in memory', async () => {
    const w = new ClickWriter(db.url, log, {
      batchSize: 20,
      flushIntervalMs: 5,
      maxPending: 50,
      closeTimeoutMs: 5_000,
    });
    let maxPending = 0;
    let waited = 0;
    // 8 concurrent producers, like requests on several connections.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 250; i++) {
          const wait = w.add(row('pressure'));
          maxPending = Math.max(maxPending, w.pending);
          if (wait) {
            waited++;
            await wait;
          }
        }
      }),
    );
    await w.close();
    expect(waited).toBeGreaterThan(0);
    expect(maxPending).toBeLessThanOrEqual(50 + 8);
    expect(await count('pressure')).toBe(2_000);
  });

  it('also bounds the bytes held: big clicks make producers wait sooner', async () => {
    const w = new ClickWriter(db.url, log, {
      batchSize: 20,
      flushIntervalMs: 5,
      maxPending: 100_000,
      maxPendingBytes: 64 * 1024,
      closeTimeoutMs: 5_000,
    });
    const big = () => row('bytes', { query_params: { blob: 'x'.repeat(16 * 1024) } });
    let maxBytes = 0;
    let waited = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 100; i++) {
          const wait = w.add(big());
          maxBytes = Math.max(maxBytes, w.pendingByteCount);
          if (wait) {
            waited++;
            await wait;
          }
        }
      }),
    );
    await w.close();
    expect(waited).toBeGreaterThan(0);
    expect(maxBytes).toBeGreaterThan(16 * 1024);
    expect(maxBytes).toBeLessThanOrEqual(64 * 1024 + 4 * 17 * 1024);
    expect(await count('bytes')).toBe(400);
  });

  it('keeps clicks while the database refuses them and writes them once it accepts again', async () => {
    let failed!: () => void;
    const firstFailure = new Promise<void>((r) => {
      failed = r;
    });
    const watching = pino(
      { level: 'error' },
      {
        write: (line: string) => {
          if (line.includes('insert failed')) failed();
        },
      },
    );
    const w = new ClickWriter(db.url, watching, {
      batchSize: 50,
      flushIntervalMs: 5,
      maxPending: 10_000,
      closeTimeoutMs: 10_000,
    });
    await db.sql`alter table clicks rename to clicks_away`;
    try {
      for (let i = 0; i < 120; i++) w.add(row('outage'));
      await firstFailure;
      expect(w.pending).toBe(120); // failed, and nothing dropped
    } finally {
      await db.sql`alter table clicks_away rename to clicks`;
    }
    await w.close();
    expect(await count('outage')).toBe(120);
  });

  it('a retried batch that had committed already (its answer lost) is stored once, with no row lost', async () => {
    const errors: string[] = [];
    const watching = pino(
      { level: 'error' },
      {
        write: (line: string) => {
          errors.push(line);
        },
      },
    );
    const w = new ClickWriter(db.url, watching, {
      batchSize: 100,
      flushIntervalMs: 5,
      maxPending: 10_000,
      closeTimeoutMs: 5_000,
    });
    const rows = Array.from({ length: 10 }, () => row('replayed'));
    // As if the first half had committed before the connection dropped:
    const first = new ClickWriter(db.url, log, {
      batchSize: 100,
      flushIntervalMs: 5,
      maxPending: 10_000,
      closeTimeoutMs: 5_000,
    });
    for (const r of rows.slice(0, 5)) first.add(r);
    await first.close();
    for (const r of rows) w.add(r);
    await w.close();
    const stored = (await db.sql`select id from clicks where link_id = 'replayed'`)
      .map((r) => r.id)
      .sort();
    expect(stored).toEqual(rows.map((r) => r.id).sort());
    expect(errors).toEqual([]);
  });

  it('reconnects after its connection is killed, losing nothing', async () => {
    const w = new ClickWriter(db.url, log, {
      batchSize: 50,
      flushIntervalMs: 5,
      maxPending: 10_000,
      closeTimeoutMs: 10_000,
    });
    for (let i = 0; i < 20; i++) w.add(row('reconnect'));
    await w.flush();
    const [{ n }] =
      await db.sql`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
      where application_name = 'apprefer click writer' and datname = current_database()`;
    expect(n).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 30; i++) w.add(row('reconnect'));
    await w.close();
    expect(await count('reconnect')).toBe(50);
  });

  it('a row PostgreSQL rejects does not take its batch with it', async () => {
    const w = new ClickWriter(db.url, log, {
      batchSize: 100,
      flushIntervalMs: 5,
      maxPending: 10_000,
      closeTimeoutMs: 5_000,
    });
    for (let i = 0; i < 10; i++) w.add(row('poison', i === 4 ? { ip: 'not-an-ip' } : {}));
    await w.close();
    expect(await count('poison')).toBe(9);
  });
});

describe('ClickWriter during a database outage, with a spill directory', () => {
  let spillDir: string;
  beforeEach(() => {
    spillDir = mkdtempSync(path.join(tmpdir(), 'apprefer-spill-'));
  });
  afterEach(() => rmSync(spillDir, { recursive: true, force: true }));
  const spilledLines = () =>
    readdirSync(spillDir)
      .filter((n) => n.endsWith('.copy'))
      .map((n) => readFileSync(path.join(spillDir, n), 'utf8'))
      .join('')
      .split('\n')
      .filter(Boolean);

  it('keeps clicks on disk when the database is unreachable: no add waits for it, nor close(); the next start writes them', async () => {
    const unreachable = `postgres://nobody:x@127.0.0.1:${await freePort()}/none`;
    const down = new ClickWriter(unreachable, log, {
      batchSize: 50,
      flushIntervalMs: 5,
      maxPending: 100,
      closeTimeoutMs: 600_000, // were close() to wait for the database, this test would time out
      spillDir,
    });
    const rows = Array.from({ length: 500 }, () => row('spilled'));
    for (const r of rows) await down.add(r); // past maxPending, a wait for a disk write only
    await down.close();
    expect(
      spilledLines()
        .map((l) => l.split('\t')[0])
        .sort(),
    ).toEqual(rows.map((r) => r.id).sort());
    expect(await count('spilled')).toBe(0);

    const up = new ClickWriter(db.url, log, { flushIntervalMs: 5, spillDir });
    await up.start();
    await up.flush();
    await up.close();
    expect(await count('spilled')).toBe(500);
    expect(readdirSync(spillDir)).toEqual([]);
  });

  it('writes the clicks of an outage once the database is back, without a restart', async () => {
    const w = new ClickWriter(db.url, log, {
      batchSize: 50,
      flushIntervalMs: 5,
      closeTimeoutMs: 10_000,
      spillDir,
    });
    await db.sql`alter table clicks rename to clicks_away`;
    try {
      for (let i = 0; i < 120; i++) w.add(row('outage-spill'));
      await eventually(async () => spilledLines().length === 120, 10_000);
      expect(w.pending).toBe(0); // nothing held in memory for the outage
    } finally {
      await db.sql`alter table clicks_away rename to clicks`;
    }
    await eventually(async () => (await count('outage-spill')) === 120, 15_000);
    await eventually(async () => readdirSync(spillDir).length === 0, 5_000);
    await w.close();
    expect(await count('outage-spill')).toBe(120);
  });

  it('a spill file written twice (its COPY committed, then a crash before it was deleted) stores each click once', async () => {
    const rows = Array.from({ length: 10 }, () => row('respilled'));
    const first = new ClickWriter(db.url, log, { flushIntervalMs: 5 });
    for (const r of rows.slice(0, 6)) first.add(r);
    await first.close();
    writeFileSync(
      path.join(spillDir, 'clicks-000000000000001-1-0.copy'),
      rows.map(copyLine).join(''),
    );
    writeFileSync(
      path.join(spillDir, 'clicks-000000000000002-1-0.tmp'),
      copyLine(row('half-written')),
    );

    const w = new ClickWriter(db.url, log, { flushIntervalMs: 5, spillDir });
    await w.start();
    await w.flush();
    await w.close();
    const stored = (await db.sql`select id from clicks where link_id = 'respilled'`).map(
      (r) => r.id,
    );
    expect(stored.sort()).toEqual(rows.map((r) => r.id).sort());
    // A file still being written (by another process on this DATA_DIR) is not touched.
    expect(readdirSync(spillDir)).toEqual(['clicks-000000000000002-1-0.tmp']);
    expect(await count('half-written')).toBe(0);
  });
});

describe('click retention', () => {
  it('deletes clicks older than the retention period only', async () => {
    const w = new ClickWriter(db.url, log, {
      batchSize: 100,
      flushIntervalMs: 5,
      maxPending: 10_000,
      closeTimeoutMs: 5_000,
    });
    const day = 86_400_000;
    for (const age of [0, 1, 29, 31, 45, 400])
      w.add(row(`ret-${age}`, { clicked_at: new Date(Date.now() - age * day - 60_000) }));
    await w.close();
    const [a, b] = await Promise.all([
      deleteExpiredClicks(db.sql, 30),
      deleteExpiredClicks(db.sql, 30),
    ]);
    expect(a + b).toBeGreaterThanOrEqual(3);
    const left = (
      await db.sql`select link_id from clicks where link_id like 'ret-%' order by link_id`
    ).map((r) => r.link_id);
    expect(left).toEqual(['ret-0', 'ret-1', 'ret-29']);
  });

  it('is an hourly job of the job system', async () => {
    expect(JOBS.click_retention.cron).toBe('7 * * * *');
    await db.sql`insert into clicks (id, app_id, link_id, clicked_at, network) values ('arc_scheduledOld00000001', 'a', 'sched', now() - interval '40 days', 'meta')`;
    await enqueueJob(db.sql, 'click_retention', {}); // as the scheduler does at minute 7
    const runner = await startJobRunner(servicesFor(db).services, {
      click_retention: JOBS.click_retention,
    });
    try {
      for (let i = 0; i < 400 && (await count('sched')) > 0; i++)
        await new Promise((r) => setTimeout(r, 25));
      expect(await count('sched')).toBe(0);
    } finally {
      await runner.stop();
    }
  });
});
