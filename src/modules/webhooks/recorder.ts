/**
 * Records one webhook delivery, whole, in one transaction — the dedup row, the event on its
 * device, its conversion deliveries (outbox) and the qualified-trial hold or disqualification —
 * so that the 200 is sent only once all of it is durable, and a repeated delivery changes nothing.
 * Which device, and what is counted, is described in docs/webhooks.md.
 */
import type { Sql } from '../../db/client.ts';
import { newId } from '../../lib/crypto.ts';
import { recordDeliveries } from '../integrations/outbox.ts';
import { MAX_REVENUE } from '../tracking/sdk-body.ts';
import type { Tx } from '../tracking/device-store.ts';
import type { SubscriptionEvent } from './subscription-event.ts';

export type WebhookApp = {
  id: string;
  qualifiedTrialsEnabled: boolean;
  /** Hours; fractions allowed. */
  qualifiedTrialsDelayHours: number;
};

export type Outcome = 'recorded' | 'unmatched' | 'ignored' | 'test' | 'duplicate';

/** Only these are ever forwarded; the other lifecycle events are recorded for analytics only. */
const FORWARDABLE = new Set(['purchase', 'start_trial']);

class Duplicate extends Error {}

export async function recordWebhookEvent(
  sql: Sql,
  app: WebhookApp,
  ev: SubscriptionEvent,
  raw: unknown,
  receivedAt: Date,
): Promise<Outcome> {
  try {
    return await sql.begin(async (t) => {
      const tx = t as unknown as Sql;
      const recorded = ev.eventName !== 'ignored' && ev.eventName !== 'test';
      const device = recorded ? await findDevice(tx, app.id, ev) : null;
      const outcome: Outcome = !recorded
        ? (ev.eventName as 'ignored' | 'test')
        : device
          ? 'recorded'
          : 'unmatched';
      const eventId = recorded ? newId('evt') : null;

      const [fresh] = await tx`
        insert into webhook_events (app_id, source, external_id, type, environment, outcome, event_id,
                                    user_ids, idfa, gaid, raw, received_at, next_check_at)
        values (${app.id}, ${ev.source}, ${ev.externalId}, ${ev.type}, ${ev.environment}, ${outcome}, ${eventId},
                ${ev.userIds}, ${ev.idfa}, ${ev.gaid}, ${tx.json(raw as never)}, ${receivedAt},
                ${outcome === 'unmatched' ? new Date(receivedAt.getTime() + 60_000) : null})
        on conflict (app_id, source, external_id) do nothing
        returning 1`;
      // Rolls back the stub device a duplicate may have created.
      if (!fresh) throw new Duplicate();
      if (!recorded || !eventId) return outcome;

      await insertEvent(tx, app.id, ev, eventId, device, receivedAt);
      if (device && FORWARDABLE.has(ev.eventName)) await recordDeliveries(tx, [eventId]);
      if (ev.transfer && device) await relinkTransfer(tx, app.id, ev, device.pk, receivedAt);
      if (ev.trialStart && app.qualifiedTrialsEnabled)
        await holdTrial(tx, app, ev, eventId, device, receivedAt);
      if (ev.endsTrial && ev.subscriptionKey) await disqualifyTrial(tx, app.id, ev, receivedAt);
      return outcome;
    });
  } catch (err) {
    if (err instanceof Duplicate) return 'duplicate';
    throw err;
  }
}

export type FoundDevice = { pk: string; deviceId: string };

/**
 * The device of a webhook event: the `appreferId` attribute when that device is known; else the
 * device a user id was last linked to (by `_set_user_id` or configure); else the device with its
 * IDFA / GAID; else, with an `appreferId`, a stub device of that id (its configure may come
 * later: the event moves to the install's attribution then); else none.
 */
export async function findDevice(
  tx: Sql,
  appId: string,
  ev: Pick<SubscriptionEvent, 'environment' | 'appreferId' | 'userIds' | 'idfa' | 'gaid'>,
  createStub = true,
): Promise<FoundDevice | null> {
  const env = ev.environment;
  const [hit] = await tx<{ pk: string; device_id: string }[]>`
    select pk, device_id from (
      select id as pk, device_id, 1 as rank from devices
      where app_id = ${appId} and environment = ${env} and device_id = ${ev.appreferId ?? null}::text
      union all
      (select d.id, d.device_id, 2 from device_users du join devices d on d.id = du.device_pk
       where du.app_id = ${appId} and du.environment = ${env} and du.user_id = any(${ev.userIds}::text[])
       order by du.linked_at desc limit 1)
      union all
      (select id, device_id, 3 from devices
       where app_id = ${appId} and environment = ${env} and idfa = ${ev.idfa ?? null}::text
       order by last_seen_at desc limit 1)
      union all
      (select id, device_id, 4 from devices
       where app_id = ${appId} and environment = ${env} and gaid = ${ev.gaid ?? null}::text
       order by last_seen_at desc limit 1)
    ) m order by rank limit 1`;
  if (hit) return { pk: hit.pk, deviceId: hit.device_id };
  if (!ev.appreferId || !createStub) return null;
  const [stub] = await tx<{ pk: string }[]>`
    with ins as (
      insert into devices (app_id, environment, device_id) values (${appId}, ${env}, ${ev.appreferId})
      on conflict (app_id, environment, device_id) do nothing returning id)
    select id as pk from ins
    union all
    select id from devices where app_id = ${appId} and environment = ${env} and device_id = ${ev.appreferId}`;
  return { pk: stub.pk, deviceId: ev.appreferId };
}

/** The event row (also used by the rematch job to write it again on its device). */
export async function insertEvent(
  tx: Tx,
  appId: string,
  ev: Pick<
    SubscriptionEvent,
    'source' | 'externalId' | 'environment' | 'eventName' | 'userId' | 'revenue' | 'currency'
  > & { occurredAt: Date; properties: unknown },
  eventId: string,
  device: FoundDevice | null,
  receivedAt: Date,
): Promise<void> {
  const sql = tx as Sql;
  const outOfRange = ev.revenue !== null && Math.abs(ev.revenue) > MAX_REVENUE;
  const revenue = ev.revenue === null || outOfRange ? null : String(ev.revenue);
  await sql`
    insert into events (id, app_id, environment, device_pk, device_id, user_id, event_name, source, revenue, currency,
                        revenue_raw, currency_raw, properties, event_id, is_control, flags, occurred_at, received_at)
    values (${eventId}, ${appId}, ${ev.environment}, ${device?.pk ?? null}, ${device?.deviceId ?? null}, ${ev.userId},
            ${ev.eventName}, ${ev.source}, ${revenue}, ${ev.currency},
            ${ev.revenue === null ? null : String(ev.revenue)}, ${ev.currency}, ${sql.json(ev.properties as never)},
            ${`${ev.source}:${ev.externalId}`}, false, ${outOfRange ? ['revenue_out_of_range'] : []}::text[],
            ${ev.occurredAt}, ${receivedAt})`;
}

/**
 * TRANSFER: the user ids the purchases moved to, when no device has them yet, are linked to the
 * device of the ids they moved from, so that their renewals keep that install's attribution. Ids
 * already linked to a device keep it.
 */
async function relinkTransfer(
  tx: Sql,
  appId: string,
  ev: SubscriptionEvent,
  devicePk: string,
  at: Date,
): Promise<void> {
  await tx`
    insert into device_users (device_pk, user_id, app_id, environment, first_linked_at, linked_at)
    select ${devicePk}, u, ${appId}, ${ev.environment}, ${at}, ${at}
    from unnest(${ev.transfer!.to}::text[]) u
    where not exists (select 1 from device_users x where x.app_id = ${appId} and x.environment = ${ev.environment} and x.user_id = u)
    on conflict do nothing`;
}

/** A trial start held for `delayHours` from its purchase time (never later than its arrival). */
async function holdTrial(
  tx: Sql,
  app: WebhookApp,
  ev: SubscriptionEvent,
  eventId: string,
  device: FoundDevice | null,
  receivedAt: Date,
): Promise<void> {
  const started =
    ev.purchasedAt && ev.purchasedAt < receivedAt
      ? ev.purchasedAt
      : ev.occurredAt < receivedAt
        ? ev.occurredAt
        : receivedAt;
  const due = new Date(started.getTime() + app.qualifiedTrialsDelayHours * 3_600_000);
  await tx`
    insert into qualified_trials (id, app_id, environment, source, subscription_key, device_pk, device_id, user_id,
                                  product_id, trial_event_id, status, started_at, due_at)
    values (${newId('qt')}, ${app.id}, ${ev.environment}, ${ev.source}, ${ev.subscriptionKey ?? ev.externalId},
            ${device?.pk ?? null}, ${device?.deviceId ?? null}, ${ev.userId}, ${ev.productId}, ${eventId},
            'held', ${started}, ${due})
    on conflict (app_id, environment, subscription_key, source) do nothing`;
}

/**
 * A cancellation, expiration or refund that happened before the hold ended disqualifies the held
 * trial of the same subscription (any source: the key is the store's transaction id). One that
 * happened after the hold ended is too late: the trial was alive when it qualified.
 */
async function disqualifyTrial(
  tx: Sql,
  appId: string,
  ev: SubscriptionEvent,
  receivedAt: Date,
): Promise<void> {
  await tx`
    update qualified_trials set status = 'disqualified', decided_at = ${receivedAt}, reason = ${ev.endsTrial}
    where app_id = ${appId} and environment = ${ev.environment} and subscription_key = ${ev.subscriptionKey}
      and status = 'held' and due_at > ${ev.occurredAt}`;
}
