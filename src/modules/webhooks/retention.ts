import type { JobContext } from '../../queue/job.ts';

/** Webhook deliveries (the dedup record) and qualified trials are kept 30 days (docs/spec/product.md §13). */
export async function webhookRetentionJob(_payload: unknown, { services }: JobContext) {
  const { sql } = services;
  await sql`delete from webhook_events where received_at < now() - interval '30 days'`;
  await sql`delete from qualified_trials where created_at < now() - interval '30 days' and status <> 'held'`;
}
