/**
 * A database outage across a minute boundary: graphile-worker's cron fails to schedule, and
 * graphile-worker stops its runner for good. The process must live on and its jobs run again.
 * (A file of its own: the test closes its database to new connections for a moment.)
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createSql, type Sql } from '../db/client.ts';
import { createTestDatabase, eventually } from '../../test/helpers.ts';
import { enqueueJob } from './enqueue.ts';
import { startJobRunner } from './runner.ts';
import { servicesFor, sleep } from './test-support.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let admin: Sql; // on another database: a database cannot close itself to connections
let name: string;
const allowConnections = (allow: boolean) =>
  admin.unsafe(`alter database "${name}" allow_connections ${allow}`);
beforeAll(async () => {
  db = await createTestDatabase();
  admin = createSql(inject('pgAdminUrl'), { max: 1 });
  [{ name }] = await db.sql<{ name: string }[]>`select current_database() as name`;
});
afterAll(async () => {
  await allowConnections(true);
  await admin?.end();
  await db?.drop();
});

it('the job runner stopped by an outage at a cron tick starts again and runs queued jobs', async () => {
  const runs: unknown[] = [];
  const { services, lines } = servicesFor(db);
  const runner = await startJobRunner(services, {
    minutely: { cron: '* * * * *', run: async () => {} },
    note: {
      run: async (p) => {
        runs.push(p);
      },
    },
  });
  try {
    // Close the database from 3 s before the next minute until graphile-worker's runner has failed.
    let toMinute = 60_000 - (Date.now() % 60_000);
    if (toMinute < 5_000) {
      await sleep(toMinute + 1_000);
      toMinute = 60_000 - (Date.now() % 60_000);
    }
    await sleep(toMinute - 3_000);
    await allowConnections(false);
    await admin`
      select pg_terminate_backend(pid) from pg_stat_activity
      where datname = ${name} and application_name like 'apprefer-jobs%'`;
    await eventually(
      async () => lines.some((l) => String(l.msg).startsWith('job runner stopped on an error')),
      30_000,
    );
    await allowConnections(true);

    await enqueueJob(db.sql, 'note', { n: 1 });
    await eventually(async () => runs.length === 1, 30_000);
    expect(runs).toEqual([{ n: 1 }]);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'job runner started again' }));
  } finally {
    await runner.stop();
  }
}, 120_000);
