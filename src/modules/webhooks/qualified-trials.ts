/**
 * Qualified trials (docs/spec/product.md §10): trial starts held by the recorder become `qualified` at the
 * first run after their delay — a system `qualified_trial` event is recorded on the trial's device
 * and its deliveries queued (`forwarded` when at least one is to be sent). Cancellations,
 * expirations and refunds during the hold disqualify them (recorder.ts). The run happens on the job
 * system every QUALIFIED_TRIALS_INTERVAL_SECONDS and on `POST /api/cron/qualified-trials`.
 */
import type { Sql } from '../../db/client.ts';
import { recordDeliveries } from '../integrations/outbox.ts';
import type { JobContext } from '../../queue/job.ts';

/** Trials decided per transaction: a backlog is worked through in bounded steps. */
const BATCH = 1000;

export type QualificationRun = { qualified: number; forwarded: number };

/** Qualifies every held trial due at `now` (the clock is a parameter so tests can move it). */
export async function qualifyDueTrials(sql: Sql, now = new Date()): Promise<QualificationRun> {
  const total: QualificationRun = { qualified: 0, forwarded: 0 };
  for (;;) {
    const step = await qualifyBatch(sql, now);
    total.qualified += step.qualified;
    total.forwarded += step.forwarded;
    if (step.qualified + step.forwarded < BATCH) return total;
  }
}

async function qualifyBatch(sql: Sql, now: Date): Promise<QualificationRun> {
  return sql.begin(async (t) => {
    const tx = t as unknown as Sql;
    // Skip locked: concurrent runs (the job and the cron endpoint) split the work, never double it.
    const due = await tx<{ id: string }[]>`
      select id from qualified_trials
      where status = 'held' and due_at <= ${now}
      order by due_at limit ${BATCH}
      for update skip locked`;
    if (!due.length) return { qualified: 0, forwarded: 0 };
    const ids = due.map((d) => d.id);
    const events = await tx<{ event_id: string; app_id: string }[]>`
      insert into events (id, app_id, environment, device_pk, device_id, user_id, event_name, source, properties,
                          event_id, occurred_at, received_at)
      select 'evt_' || substr(q.id, 4), q.app_id, q.environment, q.device_pk, q.device_id, q.user_id, 'qualified_trial', 'system',
             jsonb_build_object('qualified_trial_id', q.id, 'trial_event_id', q.trial_event_id, 'product_id', q.product_id,
                                'trial_started_at', q.started_at, 'source', q.source),
             'qualified_trial:' || q.id, q.due_at, ${now}
      from qualified_trials q where q.id = any(${ids}::text[])
      on conflict do nothing
      returning id as event_id, app_id`;
    await recordDeliveries(
      tx,
      events.map((e) => e.event_id),
      events.map((e) => e.app_id),
    );
    const decided = await tx<{ status: string }[]>`
      update qualified_trials q
      set status = case when s.queued then 'forwarded' else 'qualified' end,
          decided_at = ${now}, qualified_event_id = 'evt_' || substr(q.id, 4),
          reason = case when s.queued then null
                        when q.device_pk is null then 'no device: not forwarded'
                        else coalesce('not forwarded: ' || s.skipped, 'not forwarded: no ad-network integration for this install') end
      from (
        select x.id,
               exists (select 1 from deliveries d where d.forward_id = any(x.fwd) and d.status = 'pending') as queued,
               (select string_agg(distinct d.error, '; ') from deliveries d where d.forward_id = any(x.fwd) and d.status = 'skipped') as skipped
        from (
          select id, array['fwd_meta_' || substr(id, 4), 'fwd_google_' || substr(id, 4), 'fwd_tiktok_' || substr(id, 4)] as fwd
          from qualified_trials where id = any(${ids}::text[])
        ) x
      ) s
      where q.id = s.id
      returning q.status`;
    const forwarded = decided.filter((d) => d.status === 'forwarded').length;
    return { qualified: decided.length - forwarded, forwarded };
  });
}

/** The recurring job (src/jobs.ts). */
export async function qualifiedTrialsJob(_payload: unknown, { services, log }: JobContext) {
  const run = await qualifyDueTrials(services.sql);
  if (run.qualified + run.forwarded) log.info(run, 'qualified trials decided');
}
