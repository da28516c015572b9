/**
 * Records webhook deliveries, each whole — the dedup row, the event on its device, its conversion
 * deliveries (outbox) and the qualified-trial hold or disqualification — in the transaction that
 * commits it, so that the 200 is sent only once all of it is durable and a repeated delivery
 * changes nothing.
 *
 * Group commit, like the SDK event writer: deliveries that arrive while a batch is being written
 * queue up and go together in the next one, written with a handful of set-based statements
 * whatever the batch size, so a storm costs one commit per batch rather than one per delivery, and
 * at most MAX_CONCURRENT (one) database connection. Which device, and what is counted: docs/webhooks.md.
 */
import type { Logger } from 'pino';
import type { Sql } from '../../db/client.ts';
import { newId, newTimeOrderedId } from '../../lib/crypto.ts';
import { recordDeliveries } from '../integrations/outbox.ts';
import { retryRowsAlone } from '../../db/errors.ts';
import { OverloadedError } from '../tracking/event-writer.ts';
import { MAX_REVENUE, storableJson } from '../tracking/sdk-body.ts';
import type { Tx } from '../tracking/device-store.ts';
import type { SubscriptionEvent } from './subscription-event.ts';
import { Batcher } from '../../lib/batcher.ts';

export type WebhookApp = {
  id: string;
  qualifiedTrialsEnabled: boolean;
  /** Hours; fractions allowed. */
  qualifiedTrialsDelayHours: number;
};

export type Outcome = 'recorded' | 'unmatched' | 'ignored' | 'test' | 'duplicate';

type Item = {
  app: WebhookApp;
  ev: SubscriptionEvent;
  raw: unknown;
  receivedAt: Date;
};

/** Only these are ever forwarded; the other lifecycle events are recorded for analytics only. */
const FORWARDABLE = new Set(['purchase', 'start_trial']);
const MAX_BATCH = 500;
/**
 * One batch at a time: a second concurrent batch mostly waited on the first's device locks
 * (analytics bookkeeping of purchases) and took a second connection from SDK ingestion; measured,
 * one writer records more (2 261/s against 1 985/s) and slows SDK events less.
 */
const MAX_CONCURRENT = 1;
/** Pause between batches while SDK ingestion backs up. */
const YIELD_MS = 100;
/** Deliveries waiting beyond this are refused (503): the sender retries later. */
const MAX_QUEUE = 5_000;
/** An unmatched event is looked for again after this (then less often: rematch.ts). */
const FIRST_RECHECK_MS = 60_000;

export class WebhookWriter {
  private readonly batcher: Batcher<Item, Outcome>;

  constructor(
    sql: Sql,
    private readonly log: Logger,
  ) {
    this.batcher = new Batcher((batch) => recordBatch(sql, batch), {
      maxBatch: MAX_BATCH,
      maxConcurrent: MAX_CONCURRENT,
      // Ingestion first (src/lib/foreground.ts): while SDK writes back up, the next batch waits a
      // little — fewer, larger batches; the senders only see a later 200.
      yieldMs: YIELD_MS,
      retryAlone: retryRowsAlone(this.log, 'webhook batch failed; retrying one by one'),
    });
  }

  /** Resolves with the outcome once the delivery (or the decision that it is a duplicate) is committed. */
  submit(app: WebhookApp, ev: SubscriptionEvent, raw: unknown, receivedAt: Date): Promise<Outcome> {
    if (this.batcher.queued >= MAX_QUEUE)
      return Promise.reject(new OverloadedError('webhook queue full'));
    return this.batcher.submit({ app, ev, raw, receivedAt });
  }

  /** Waits until every queued delivery is written (shutdown). */
  drain(): Promise<void> {
    return this.batcher.drain();
  }
}

type Prepared = Item & {
  key: string;
  recorded: boolean;
  eventId: string | null;
  device: FoundDevice | null;
  outcome: Outcome;
};

async function recordBatch(sql: Sql, batch: Item[]): Promise<Outcome[]> {
  // Repeats inside the batch: the first wins, the others are duplicates.
  const seen = new Set<string>();
  const items: Prepared[] = batch.map((b) => {
    const key = `${b.app.id}\u0000${b.ev.source}\u0000${b.ev.externalId}`;
    const recorded = b.ev.eventName !== 'ignored' && b.ev.eventName !== 'test';
    const dup = seen.has(key);
    seen.add(key);
    return {
      ...b,
      key,
      recorded,
      eventId: recorded ? newTimeOrderedId('evt') : null,
      device: null,
      outcome: dup ? 'duplicate' : recorded ? 'unmatched' : (b.ev.eventName as 'ignored' | 'test'),
    };
  });
  const live = items.filter((i) => i.outcome !== 'duplicate');

  await sql.begin(async (t) => {
    const tx = t as unknown as Sql;
    await findDevices(
      tx,
      live.filter((i) => i.recorded),
    );
    for (const i of live) if (i.recorded && i.device) i.outcome = 'recorded';

    // The dedup record; in key order, so concurrent batches never wait on each other in a cycle.
    const order = [...live].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const col = <T>(f: (i: Prepared) => T) => order.map(f);
    const fresh = await tx<{ app_id: string; source: string; external_id: string }[]>`
      insert into webhook_events (app_id, source, external_id, type, environment, outcome, event_id,
                                  user_ids, idfa, gaid, raw, received_at, next_check_at)
      select app_id, source, external_id, type, environment, outcome, event_id,
             array(select jsonb_array_elements_text(user_ids::jsonb)), idfa, gaid, raw::json, received_at, next_check_at
      from unnest(${col((i) => i.app.id)}::text[], ${col((i) => i.ev.source)}::text[],
                  ${col((i) => i.ev.externalId)}::text[], ${col((i) => i.ev.type)}::text[],
                  ${col((i) => i.ev.environment)}::text[], ${col((i) => i.outcome)}::text[],
                  ${col((i) => i.eventId)}::text[], ${col((i) => JSON.stringify(i.ev.userIds))}::text[],
                  ${col((i) => i.ev.idfa)}::text[], ${col((i) => i.ev.gaid)}::text[],
                  ${col((i) => JSON.stringify(storableJson(i.raw)))}::text[], ${col((i) => i.receivedAt.toISOString())}::timestamptz[],
                  ${col((i) => (i.outcome === 'unmatched' ? new Date(i.receivedAt.getTime() + FIRST_RECHECK_MS).toISOString() : null))}::timestamptz[])
        with ordinality as x(app_id, source, external_id, type, environment, outcome, event_id, user_ids, idfa, gaid,
                             raw, received_at, next_check_at, ord)
      order by ord
      on conflict (app_id, source, external_id) do nothing
      returning app_id, source, external_id`;
    const freshKeys = new Set(
      fresh.map((f) => `${f.app_id}\u0000${f.source}\u0000${f.external_id}`),
    );
    const isFresh = new Set(live.filter((i) => freshKeys.has(i.key)));
    for (const i of live) if (!isFresh.has(i)) i.outcome = 'duplicate';

    const events = live.filter((i) => isFresh.has(i) && i.recorded);
    await insertEvents(tx, events);
    const forwardable = events.filter((i) => i.device && FORWARDABLE.has(i.ev.eventName));
    await recordDeliveries(
      tx,
      forwardable.map((i) => i.eventId!),
      forwardable.map((i) => i.app.id),
    );
    // Rare kinds, one statement each.
    for (const i of events) {
      if (i.ev.transfer && i.device)
        await relinkTransfer(tx, i.app.id, i.ev, i.device.pk, i.receivedAt);
      if (i.ev.trialStart && i.app.qualifiedTrialsEnabled) await holdTrial(tx, i);
      if (i.ev.endsTrial && i.ev.subscriptionKey)
        await disqualifyTrial(tx, i.app.id, i.ev, i.receivedAt);
    }
  });
  return items.map((i) => i.outcome);
}

export type FoundDevice = { pk: string; deviceId: string };
type DeviceHints = Pick<
  SubscriptionEvent,
  'environment' | 'appreferId' | 'userIds' | 'idfa' | 'gaid'
>;

/**
 * The device of each webhook event: the `appreferId` attribute when that device is known; else the
 * device a user id was last linked to (by `_set_user_id` or configure); else the device with its
 * IDFA / GAID; else, with an `appreferId`, a stub device of that id (its configure may come
 * later: the event moves to the install's attribution then); else none.
 */
async function findDevices(tx: Sql, items: Prepared[]): Promise<void> {
  if (!items.length) return;
  const found = await lookupDevices(
    tx,
    items.map((i) => ({ appId: i.app.id, ...i.ev })),
  );
  items.forEach((i, k) => (i.device = found[k]));

  // Stubs, in key order (no lock cycles between concurrent batches).
  const stubs = [
    ...new Map(
      items
        .filter((i) => !i.device && i.ev.appreferId)
        .map((i) => [`${i.app.id}\u0000${i.ev.environment}\u0000${i.ev.appreferId}`, i]),
    ).entries(),
  ].sort(([a], [b]) => (a < b ? -1 : 1));
  if (!stubs.length) return;
  const rows = await tx<{ app_id: string; environment: string; device_id: string; pk: string }[]>`
    with wanted as (
      select * from unnest(${stubs.map(([, i]) => i.app.id)}::text[], ${stubs.map(([, i]) => i.ev.environment)}::text[],
                           ${stubs.map(([, i]) => i.ev.appreferId!)}::text[]) as w(app_id, environment, device_id)),
    ins as (
      insert into devices (app_id, environment, device_id)
      select app_id, environment, device_id from wanted
      on conflict (app_id, environment, device_id) do nothing
      returning app_id, environment, device_id, id)
    select app_id, environment, device_id, id as pk from ins
    union all
    select d.app_id, d.environment, d.device_id, d.id from wanted w
    join devices d using (app_id, environment, device_id)`;
  const byKey = new Map(
    rows.map((r) => [`${r.app_id}\u0000${r.environment}\u0000${r.device_id}`, r.pk]),
  );
  for (const i of items) {
    if (i.device || !i.ev.appreferId) continue;
    const pk = byKey.get(`${i.app.id}\u0000${i.ev.environment}\u0000${i.ev.appreferId}`);
    if (pk) i.device = { pk, deviceId: i.ev.appreferId };
  }
}

/** Known devices only (no stubs), in input order; one statement for any number of lookups. */
export async function lookupDevices(
  tx: Sql,
  hints: (DeviceHints & { appId: string })[],
): Promise<(FoundDevice | null)[]> {
  const rows = await tx<{ ord: number; pk: string | null; device_id: string | null }[]>`
    select h.ord::int, m.pk, m.device_id
    from unnest(${hints.map((h) => h.appId)}::text[], ${hints.map((h) => h.environment)}::text[],
                ${hints.map((h) => h.appreferId)}::text[], ${hints.map((h) => JSON.stringify(h.userIds))}::text[],
                ${hints.map((h) => h.idfa)}::text[], ${hints.map((h) => h.gaid)}::text[])
      with ordinality as h(app_id, environment, apprefer_id, user_ids, idfa, gaid, ord)
    left join lateral (
      select pk, device_id from (
        select id as pk, device_id, 1 as rank from devices
        where app_id = h.app_id and environment = h.environment and device_id = h.apprefer_id
        union all
        (select d.id, d.device_id, 2 from device_users du join devices d on d.id = du.device_pk
         where du.app_id = h.app_id and du.environment = h.environment
           and du.user_id = any(array(select jsonb_array_elements_text(h.user_ids::jsonb)))
         order by du.linked_at desc limit 1)
        union all
        (select id, device_id, 3 from devices
         where app_id = h.app_id and environment = h.environment and idfa = h.idfa
         order by last_seen_at desc limit 1)
        union all
        (select id, device_id, 4 from devices
         where app_id = h.app_id and environment = h.environment and gaid = h.gaid
         order by last_seen_at desc limit 1)
      ) c order by rank limit 1
    ) m on true
    order by h.ord`;
  return rows.map((r) => (r.pk ? { pk: r.pk, deviceId: r.device_id! } : null));
}

async function insertEvents(tx: Tx, items: Prepared[]): Promise<void> {
  if (!items.length) return;
  const sql = tx as Sql;
  const col = <T>(f: (i: Prepared) => T) => items.map(f);
  const revenue = (i: Prepared) =>
    i.ev.revenue === null || Math.abs(i.ev.revenue) > MAX_REVENUE ? null : String(i.ev.revenue);
  await sql`
    insert into events (id, app_id, environment, device_pk, device_id, user_id, event_name, source, revenue, currency,
                        revenue_raw, currency_raw, properties, event_id, is_control, flags, occurred_at, received_at)
    select id, app_id, environment, device_pk, device_id, user_id, event_name, source, revenue, currency,
           revenue_raw, currency, properties::jsonb, event_id, false,
           -- an amount beyond MAX_REVENUE is kept only raw (as SDK events are)
           case when revenue is null and revenue_raw is not null then array['revenue_out_of_range'] else '{}'::text[] end,
           occurred_at, received_at
    from unnest(${col((i) => i.eventId)}::text[], ${col((i) => i.app.id)}::text[], ${col((i) => i.ev.environment)}::text[],
                ${col((i) => i.device?.pk ?? null)}::bigint[], ${col((i) => i.device?.deviceId ?? null)}::text[],
                ${col((i) => i.ev.userId)}::text[], ${col((i) => i.ev.eventName)}::text[], ${col((i) => i.ev.source)}::text[],
                ${col(revenue)}::numeric[], ${col((i) => i.ev.currency)}::text[],
                ${col((i) => (i.ev.revenue === null ? null : String(i.ev.revenue)))}::text[],
                ${col((i) => JSON.stringify(i.ev.properties))}::text[],
                ${col((i) => `${i.ev.source}:${i.ev.externalId}`)}::text[],
                ${col((i) => i.ev.occurredAt.toISOString())}::timestamptz[], ${col((i) => i.receivedAt.toISOString())}::timestamptz[])
      as x(id, app_id, environment, device_pk, device_id, user_id, event_name, source, revenue, currency, revenue_raw,
           properties, event_id, occurred_at, received_at)`;
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
async function holdTrial(tx: Sql, i: Prepared): Promise<void> {
  const { ev, app, receivedAt } = i;
  const started = new Date(
    Math.min((ev.purchasedAt ?? ev.occurredAt).getTime(), receivedAt.getTime()),
  );
  const due = new Date(started.getTime() + app.qualifiedTrialsDelayHours * 3_600_000);
  await tx`
    insert into qualified_trials (id, app_id, environment, source, subscription_key, device_pk, device_id, user_id,
                                  product_id, trial_event_id, status, started_at, due_at)
    values (${newId('qt')}, ${app.id}, ${ev.environment}, ${ev.source}, ${ev.subscriptionKey ?? ev.externalId},
            ${i.device?.pk ?? null}, ${i.device?.deviceId ?? null}, ${ev.userId}, ${ev.productId}, ${i.eventId},
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
