import type { Sql } from '../../db/client.ts';
import type { JobContext } from '../../queue/job.ts';

// Any constant unique to this job: only one server process deletes at a time.
const LOCK_KEY = 0x61726331; // "arc1"
const BATCH = 10_000;

/**
 * Deletes clicks older than `days` (raw IPs go with them), in batches so that no long lock is
 * held. Returns how many rows went. Safe to run from several processes at once: the others skip.
 */
export async function deleteExpiredClicks(sql: Sql, days: number): Promise<number> {
  const conn = await sql.reserve();
  try {
    const [{ locked }] = await conn<
      { locked: boolean }[]
    >`select pg_try_advisory_lock(${LOCK_KEY}) as locked`;
    if (!locked) return 0;
    try {
      // The BRIN index on clicked_at (0005) skips only page ranges it has summarized; autovacuum
      // summarizes them eventually, this makes sure before the lookup (unsummarized ranges are
      // read whole: with none expired, that would be the entire table).
      await conn`select brin_summarize_new_values('clicks_retention_idx')`;
      let total = 0;
      for (;;) {
        const deleted = await conn`
          delete from clicks where ctid = any(array(
            select ctid from clicks where clicked_at < now() - make_interval(days => ${days}) limit ${BATCH}))`;
        total += deleted.count;
        if (deleted.count < BATCH) return total;
      }
    } finally {
      await conn`select pg_advisory_unlock(${LOCK_KEY})`;
    }
  } finally {
    conn.release();
  }
}

/** The hourly job (src/jobs.ts): clicks older than CLICK_RETENTION_DAYS go. */
export async function clickRetentionJob(
  _payload: unknown,
  { services, log }: JobContext,
): Promise<void> {
  const days = services.config.clickRetentionDays;
  const deleted = await deleteExpiredClicks(services.sql, days);
  if (deleted) log.info({ deleted, days }, 'click retention: old clicks deleted');
}
