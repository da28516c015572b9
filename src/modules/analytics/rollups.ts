/**
 * Rollup maintenance (design: docs/analytics.md "Write path"). Writers only append keys to
 * `analytics_inbox` (triggers, migration 0015); `analytics_fold()` turns them into rollup rows.
 * The `analytics_fold` job folds every second, and readers fold whatever their apps still have in
 * the inbox before reading (`foldFor`), so every answer counts every write committed before it.
 */
import type { Sql } from '../../db/client.ts';
import type { JobContext } from '../../queue/job.ts';

const SERIALIZATION_FAILURE = '40001';
const MAX_ATTEMPTS = 50;

/**
 * Runs `fn` in a repeatable-read transaction (one snapshot for the fold's every step). A fold
 * that committed after this transaction's snapshot makes it fail with a serialization error: it
 * waited for that fold, so the next attempt starts after it and finds only what is left.
 */
async function inOneSnapshot<T>(sql: Sql, fn: (tx: Sql) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await sql.begin('isolation level repeatable read', (tx) =>
        fn(tx as unknown as Sql),
      )) as T;
    } catch (err) {
      if ((err as { code?: string }).code !== SERIALIZATION_FAILURE || attempt >= MAX_ATTEMPTS)
        throw err;
    }
  }
}

/** Folds everything in the inbox; returns how many inbox rows (writing statements) it took. */
export async function fold(sql: Sql): Promise<number> {
  return inOneSnapshot(sql, async (tx) => {
    const [{ n }] = await tx<{ n: number }[]>`select analytics_fold() as n`;
    return n;
  });
}

/** Folds first when any of these apps has writes not folded yet (readers call it). */
export async function foldFor(sql: Sql, appIds: string[]): Promise<void> {
  if (!appIds.length) return;
  const [{ waiting }] = await sql<{ waiting: boolean }[]>`
    select exists (select 1 from analytics_inbox where app_id = any(${appIds}::text[])) as waiting`;
  if (waiting) await fold(sql);
}

/** Recomputes an app's rollups from its raw rows (bulk loads, repairs). */
export async function rebuildApp(sql: Sql, appId: string): Promise<void> {
  await inOneSnapshot(sql, (tx) => tx`select analytics_rebuild(${appId})`);
}

/** The job that runs every second (src/jobs.ts); one run at a time for the whole database. */
export async function foldJob(_payload: unknown, { services }: JobContext): Promise<void> {
  await fold(services.sql);
}
