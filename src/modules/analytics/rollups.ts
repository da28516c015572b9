/**
 * Rollup maintenance. Triggers (migration 0004) append deltas to analytics_pending on every write;
 * this job folds them into the rollups every second. Readers add the pending deltas themselves,
 * so folding only keeps reads fast; it never changes an answer.
 */
import type { Logger } from 'pino';
import type { Sql } from '../../db/client.ts';

export const FOLD_INTERVAL_MS = 1000;
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

/** The background folder of one server process; several processes take turns (advisory lock). */
export function startFolder(sql: Sql, log: Logger, intervalMs = FOLD_INTERVAL_MS) {
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = foldPending(sql)
      .then(() => undefined)
      .catch((err) => { if (!stopped) log.warn({ err }, 'analytics fold failed; retrying'); })
      .finally(() => { running = null; });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
