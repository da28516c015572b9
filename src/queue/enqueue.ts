import type { TransactionSql } from 'postgres';
import type { Sql } from '../db/client.ts';

export type EnqueueOptions = {
  /** Not before this time (default: now). */
  runAt?: Date;
  /**
   * At most one pending job per key: queueing again replaces the pending one (a running one is
   * left to finish, and the new one runs after it).
   */
  jobKey?: string;
  maxAttempts?: number;
};

/**
 * Queues a job on the durable queue (graphile-worker). Given a transaction, the job exists only if
 * that transaction commits: no work for data that rolled back, no data without its work.
 */
export async function enqueueJob(
  db: Sql | TransactionSql<Record<string, never>>,
  task: string,
  payload: Record<string, unknown>,
  opts: EnqueueOptions = {},
): Promise<void> {
  const sql = db as Sql;
  await sql`
    select graphile_worker.add_job(
      ${task}::text, ${JSON.stringify(payload)}::text::json,
      run_at => ${opts.runAt ?? null}::timestamptz,
      job_key => ${opts.jobKey ?? null}::text,
      max_attempts => ${opts.maxAttempts ?? null}::int)`;
}
