/**
 * Every piece of background work, in one place. All of it runs on the one durable job system
 * (graphile-worker, src/queue/runner.ts) in every `apprefer serve` process; however many processes
 * share the database, a recurring job runs once per period.
 *
 * - `cron`: created by the scheduler once per period (standard five-field cron, UTC);
 * - `everySeconds`: one chained job per database, each run queueing the next;
 * - neither: queued by the code named beside it, in the transaction of the data it is about.
 *
 * A failing job is logged with its name and retried with backoff. Handlers are idempotent:
 * a job that was running when its process died runs again (src/queue/reclaim.ts).
 */
import { ASA_RESOLVE_TASK, asaResolveJob } from './modules/attribution/asa-resolution.ts';
import { LATE_CLICK_TASK, lateClickJob } from './modules/attribution/late-clicks.ts';
import { foldJob } from './modules/analytics/rollups.ts';
import { clickRetentionJob } from './modules/clicks/retention.ts';
import { sessionCleanupJob } from './modules/auth/accounts.ts';
import { deliveryRetentionJob, forwardJob } from './modules/integrations/sender.ts';
import { skanRetentionJob } from './modules/skan/retention.ts';
import { pruneFingerprintsJob } from './modules/tracking/event-writer.ts';
import { qualifiedTrialsJob } from './modules/webhooks/qualified-trials.ts';
import { rematchJob } from './modules/webhooks/rematch.ts';
import { webhookRetentionJob } from './modules/webhooks/retention.ts';
import type { JobDefinition } from './queue/job.ts';
import { reclaimJob } from './queue/reclaim.ts';

export const JOBS = {
  /** Rollup deltas written by the analytics triggers are folded into the daily rollups. */
  analytics_fold: { everySeconds: 1, run: foldJob },
  /** Clicks older than CLICK_RETENTION_DAYS are deleted (raw IPs go with them). */
  click_retention: { cron: '7 * * * *', run: clickRetentionJob },
  /** SKAN postbacks older than 90 days are deleted (docs/skan.md). */
  skan_retention: { cron: '23 * * * *', run: skanRetentionJob },
  /** Event fingerprints past the SDK dedup window are deleted. */
  fingerprint_prune: { cron: '* * * * *', run: pruneFingerprintsJob },
  /** Sessions past their 30 days or unused for SESSION_IDLE_HOURS are deleted. */
  session_cleanup: { cron: '17 * * * *', run: sessionCleanupJob },
  /** Jobs of a process that died go back to the queue. */
  queue_reclaim: { cron: '* * * * *', run: reclaimJob },
  /** Due conversion deliveries are sent to Meta, Google Ads and TikTok (docs/forwarding.md). */
  forward_deliveries: { everySeconds: 1, run: forwardJob },
  /** Deliveries (the forwarding audit log) older than 365 days are deleted. */
  delivery_retention: { cron: '17 3 * * *', run: deliveryRetentionJob },
  /** Held trials past their delay become qualified_trial events, forwarded (docs/webhooks.md). */
  qualified_trials: {
    everySeconds: (c) => c.qualifiedTrialsIntervalSeconds,
    run: qualifiedTrialsJob,
  },
  /** Webhook events that found no device look again (user id or IDFA/GAID linked since). */
  webhook_rematch: { everySeconds: 60, run: rematchJob },
  /** Webhook deliveries (dedup records) and decided qualified trials older than 30 days are deleted. */
  webhook_retention: { cron: '29 3 * * *', run: webhookRetentionJob },
  /** One Apple AdServices lookup for a pending iOS install; queued by configure (tracking/configure.ts). */
  [ASA_RESOLVE_TASK]: { run: asaResolveJob },
  /** Looks again for a click answered but not yet written when its install came (tracking/configure.ts). */
  [LATE_CLICK_TASK]: { run: lateClickJob },
} satisfies Record<string, JobDefinition>;
