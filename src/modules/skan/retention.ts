import type { JobContext } from '../../queue/job.ts';
import { deleteExpiredPostbacks, POSTBACK_RETENTION_DAYS } from './queries.ts';

/** The hourly job (src/jobs.ts): SKAN postbacks older than 90 days go (docs/spec/product.md §13). */
export async function skanRetentionJob(
  _payload: unknown,
  { services, log }: JobContext,
): Promise<void> {
  const deleted = await deleteExpiredPostbacks(services.sql);
  if (deleted)
    log.info({ deleted, days: POSTBACK_RETENTION_DAYS }, 'skan retention: old postbacks deleted');
}
