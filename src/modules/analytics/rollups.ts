/**
 * Rollup maintenance. Triggers (migration 0004) append deltas to analytics_pending on every write;
 * the `analytics_fold` job folds them into the rollups every second. Readers add the pending deltas themselves,
 * so folding only keeps reads fast; it never changes an answer.
 */
import type { Sql } from '../../db/client.ts';
import type { JobContext } from '../../queue/job.ts';

export const FOLD_BATCH = 20_000;

/** Folds every pending delta (batch by batch); returns how many rows were moved. */
export async function foldPending(sql: Sql, batch = FOLD_BATCH): Promise<number> {
  let total = 0;
  for (;;) {
    const [{ n }] = await sql<{ n: number }[]>`select analytics_fold(${batch}) as n`;
    total += n;
    if (n < batch) return total;
  }
}

/** Recomputes an app's rollups from its raw rows (bulk loads, repairs). */
export async function rebuildApp(sql: Sql, appId: string): Promise<void> {
  await sql`select analytics_rebuild(${appId})`;
}

/** The job that runs every second (src/jobs.ts); one run at a time for the whole database. */
export async function foldJob(_payload: unknown, { services }: JobContext): Promise<void> {
  await foldPending(services.sql);
}
