/**
 * Cron jobs with several server processes on one database: each period's job is created once,
 * not once per process. Waits for the next minute boundary (up to a minute), so it has a file of its
 * own and runs beside the others.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, eventually } from '../../test/helpers.ts';
import { startJobRunner } from './runner.ts';
import { servicesFor, sleep } from './test-support.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

it('three processes, one run per minute', async () => {
  const runs: string[] = [];
  const minutely = {
    cron: '* * * * *',
    run: async (p: unknown) => {
      runs.push((p as { _cron: { ts: string } })._cron.ts);
    },
  };
  const runners = await Promise.all(
    [1, 2, 3].map(() => startJobRunner(servicesFor(db).services, { minutely })),
  );
  try {
    await eventually(async () => runs.length > 0, 75_000);
    await sleep(3_000); // time for any duplicate of that minute to show up
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
  }
  expect(runs).toHaveLength(1);
}, 90_000);
