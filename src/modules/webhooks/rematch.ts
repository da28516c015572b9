/**
 * Late matching of webhook events that found no device: the app's user may sign in (a
 * `_set_user_id` or configure with that user id), or a device with the IDFA / GAID may configure,
 * after the purchase was reported. The job looks again after 1, 2, 4, … minutes, then every
 * 6 hours, for as long as the delivery is kept (30 days). A match moves the event onto the device:
 * out of the unattributed counts, into its install's attribution, and queued for forwarding.
 */
import type { Sql } from '../../db/client.ts';
import type { JobContext } from '../../queue/job.ts';
import { recordDeliveries } from '../integrations/outbox.ts';
import { lookupDevices } from './recorder.ts';

const BATCH = 200;
const MAX_INTERVAL_MINUTES = 360;

type Unmatched = {
  app_id: string;
  source: string;
  external_id: string;
  environment: 'live' | 'sandbox';
  event_id: string;
  user_ids: string[];
  idfa: string | null;
  gaid: string | null;
};

/** Looks again for the devices of unmatched events due a check at `now`; returns how many matched. */
export async function rematchWebhookEvents(sql: Sql, now = new Date()): Promise<number> {
  let matched = 0;
  for (;;) {
    const step = await sql.begin(async (t) => {
      const tx = t as unknown as Sql;
      const rows = await tx<Unmatched[]>`
        select app_id, source, external_id, environment, event_id, user_ids, idfa, gaid
        from webhook_events
        where outcome = 'unmatched' and next_check_at <= ${now}
        order by next_check_at limit ${BATCH}
        for update skip locked`;
      const devices = await lookupDevices(
        tx,
        rows.map((w) => ({ ...w, appId: w.app_id, userIds: w.user_ids, appreferId: null })),
      );
      let n = 0;
      for (const [k, w] of rows.entries()) {
        const device = devices[k];
        if (!device) {
          await tx`
            update webhook_events
            set checks = checks + 1,
                next_check_at = ${now}::timestamptz + least(power(2, checks + 1), ${MAX_INTERVAL_MINUTES}) * interval '1 minute'
            where app_id = ${w.app_id} and source = ${w.source} and external_id = ${w.external_id}`;
          continue;
        }
        await moveOntoDevice(tx, w.app_id, w.event_id, device);
        await tx`
          update webhook_events set outcome = 'recorded', matched_at = ${now}, next_check_at = null
          where app_id = ${w.app_id} and source = ${w.source} and external_id = ${w.external_id}`;
        n++;
      }
      return { seen: rows.length, matched: n };
    });
    matched += step.matched;
    if (step.seen < BATCH) return matched;
  }
}

/**
 * Moves the event onto its device (same row: id, times and content unchanged). The analytics
 * inbox records the move (migration 0015), and the next fold takes the event out of the
 * "no device" dimensions and credits it to the device's attribution.
 */
async function moveOntoDevice(
  tx: Sql,
  appId: string,
  eventId: string,
  device: { pk: string; deviceId: string },
): Promise<void> {
  const [moved] = await tx<{ event_name: string }[]>`
    update events set device_pk = ${device.pk}, device_id = ${device.deviceId}
    where id = ${eventId} and device_pk is null
    returning event_name`;
  if (!moved) return;
  await tx`
    update qualified_trials set device_pk = ${device.pk}, device_id = ${device.deviceId}
    where trial_event_id = ${eventId} and device_pk is null`;
  if (moved.event_name === 'purchase' || moved.event_name === 'start_trial')
    await recordDeliveries(tx, [eventId], [appId]);
}

/** The recurring job (src/jobs.ts). */
export async function rematchJob(_payload: unknown, { services, log }: JobContext) {
  const n = await rematchWebhookEvents(services.sql);
  if (n) log.info({ matched: n }, 'webhook events matched to their devices');
}
