/**
 * Group commit for SDK events. Requests hand their event to the writer and wait for the commit of
 * the batch that carries it: a 200 is only sent once the event is durable, while concurrent
 * requests share one transaction (and one fsync) instead of paying one each.
 *
 * Batching is self-clocking: when the writer is idle an event is written at once; while a batch
 * is committing, new events queue up and go together in the next one.
 *
 * Dedup is an atomic insert-if-absent in the shared store, so it holds across hosts, processes
 * and concurrent requests: `event_id` through the unique index on events; otherwise a fingerprint
 * row in `event_fingerprints` that only a repeat older than the window may refresh.
 */
import type { Logger } from 'pino';
import type { Sql } from '../../db/client.ts';
import { newId } from '../../lib/crypto.ts';
import type { Environment } from '../attribution/waterfall.ts';
import { eventFingerprint, type EventBody } from './body.ts';
import { linkUser } from './devices.ts';

export const DEDUP_WINDOW_SECONDS = 120;

export type PendingEvent = {
  appId: string;
  environment: Environment;
  body: EventBody;
  source: 'sdk' | 's2s';
  flags: string[];
  /** Currency used when the event has revenue but no valid currency. */
  defaultCurrency: string;
  receivedAt: Date;
};

export class OverloadedError extends Error {}

type Queued = PendingEvent & { id: string; fingerprint: string | null; resolve: () => void; reject: (e: unknown) => void };

export type WriterOptions = { maxBatch?: number; maxConcurrent?: number; maxQueue?: number };

export class EventWriter {
  private queue: Queued[] = [];
  private active = 0;
  private readonly maxBatch: number;
  private readonly maxConcurrent: number;
  private readonly maxQueue: number;
  private idle: (() => void) | null = null;

  constructor(private readonly sql: Sql, private readonly log: Logger, opts: WriterOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 1000;
    this.maxConcurrent = opts.maxConcurrent ?? 2;
    this.maxQueue = opts.maxQueue ?? 20_000;
  }

  /** Resolves once the event (or the decision that it is a duplicate) is committed. */
  submit(e: PendingEvent): Promise<void> {
    if (this.queue.length >= this.maxQueue) return Promise.reject(new OverloadedError('event queue full'));
    return new Promise<void>((resolve, reject) => {
      const fingerprint = e.body.eventId ? null : eventFingerprint(e.body).toString('hex');
      this.queue.push({ ...e, id: newId('evt'), fingerprint, resolve, reject });
      this.kick();
    });
  }

  /** Waits until every queued event is written (shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.active) await new Promise<void>((r) => (this.idle = r));
  }

  private kick() {
    while (this.active < this.maxConcurrent && this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.active++;
      void this.flush(batch).finally(() => {
        this.active--;
        if (!this.queue.length && !this.active) { this.idle?.(); this.idle = null; }
        this.kick();
      });
    }
  }

  private async flush(batch: Queued[]): Promise<void> {
    try {
      await this.write(batch);
      for (const e of batch) e.resolve();
    } catch (err) {
      if (batch.length > 1 && !isTransient(err)) {
        // One bad row must not fail its neighbours: write them one by one.
        this.log.warn({ err, size: batch.length }, 'event batch failed; retrying its events one by one');
        for (const e of batch) await this.flush([e]);
        return;
      }
      for (const e of batch) e.reject(err);
    }
  }

  private async write(batch: Queued[]): Promise<void> {
    // Duplicates inside the batch itself: the first occurrence wins.
    const seen = new Set<string>();
    const unique: Queued[] = [];
    const suppressed = new Map<string, number>();
    for (const e of batch) {
      const k = `${e.appId}\u0000${e.environment}\u0000${e.body.eventId ? `id:${e.body.eventId}` : `fp:${e.fingerprint}`}`;
      if (seen.has(k)) { bump(suppressed, e); continue; }
      seen.add(k);
      unique.push(e);
    }

    await this.sql.begin(async (tx) => {
      // Devices: created lazily for unknown ones (a stub, not an install). Sorted keys keep the
      // row-lock order identical across concurrent batches (no deadlocks).
      const keys = [...new Map(unique.map((e) => [`${e.appId}\u0000${e.environment}\u0000${e.body.deviceId}`, e])).values()]
        .map((e) => [e.appId, e.environment, e.body.deviceId] as const)
        .sort((a, b) => (a[0] + '\u0000' + a[1] + '\u0000' + a[2] < b[0] + '\u0000' + b[1] + '\u0000' + b[2] ? -1 : 1));
      const devices = await tx<{ id: string; app_id: string; environment: string; device_id: string; customer_user_id: string | null }[]>`
        insert into devices (app_id, environment, device_id)
        select * from unnest(${keys.map((k) => k[0])}::text[], ${keys.map((k) => k[1])}::text[], ${keys.map((k) => k[2])}::text[])
        on conflict (app_id, environment, device_id) do update set last_seen_at = now()
        returning id, app_id, environment, device_id, customer_user_id`;
      const deviceOf = new Map(devices.map((d) => [`${d.app_id}\u0000${d.environment}\u0000${d.device_id}`, d]));
      const dev = (e: Queued) => deviceOf.get(`${e.appId}\u0000${e.environment}\u0000${e.body.deviceId}`)!;

      // Control events act on the device; repeating them is harmless (idempotent by design).
      for (const e of unique) {
        const d = dev(e);
        if (e.body.eventName === '_set_user_id') {
          const userId = e.body.properties.user_id;
          if (typeof userId === 'string' && userId !== '' && userId.length <= 512) {
            await linkUser(tx, d.id, e.appId, e.environment, userId, e.receivedAt);
            d.customer_user_id = userId;
          }
        } else if (e.body.eventName === '_advanced_matching' && Object.keys(e.body.advancedMatching).length) {
          await tx`update devices set advanced_matching = advanced_matching || ${tx.json(e.body.advancedMatching)} where id = ${d.id}`;
        }
      }

      const rows = unique.map((e) => {
        const b = e.body;
        const currency = b.revenue !== null ? (b.currency ?? e.defaultCurrency) : b.currency;
        const flags = [...e.flags];
        if (b.implausibleRevenue) flags.push('revenue_implausible');
        if (b.revenue !== null && b.currency === null) flags.push('currency_defaulted');
        const properties = b.eventName === '_advanced_matching' ? { advanced_matching: b.advancedMatching } : b.properties;
        return {
          id: e.id, app: e.appId, env: e.environment, pk: dev(e).id, device: b.deviceId, user: dev(e).customer_user_id,
          name: b.eventName, source: e.source, revenue: b.revenue === null ? null : String(b.revenue), currency,
          revenueRaw: b.revenueRaw, currencyRaw: b.currencyRaw, props: JSON.stringify(properties), eventId: b.eventId,
          flags: flags.join(','), at: e.receivedAt.toISOString(), fp: e.fingerprint,
        };
      });
      const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]) as never;

      const inserted = await tx<{ id: string }[]>`
        with input as (
          select * from unnest(
            ${col('id')}::text[], ${col('app')}::text[], ${col('env')}::text[], ${col('pk')}::bigint[], ${col('device')}::text[],
            ${col('user')}::text[], ${col('name')}::text[], ${col('source')}::text[], ${col('revenue')}::numeric[], ${col('currency')}::text[],
            ${col('revenueRaw')}::text[], ${col('currencyRaw')}::text[], ${col('props')}::text[], ${col('eventId')}::text[],
            ${col('flags')}::text[], ${col('at')}::timestamptz[], ${col('fp')}::text[]
          ) with ordinality as t(id, app_id, environment, device_pk, device_id, user_id, event_name, source, revenue, currency,
                                 revenue_raw, currency_raw, properties, event_id, flags, at, fp, ord)
        ),
        fresh as (
          insert into event_fingerprints as f (app_id, environment, fingerprint, seen_at)
          select app_id, environment, decode(fp, 'hex'), at from input where fp is not null
          on conflict (app_id, environment, fingerprint) do update set seen_at = excluded.seen_at
            where f.seen_at < excluded.seen_at - ${DEDUP_WINDOW_SECONDS} * interval '1 second'
          returning app_id, environment, encode(fingerprint, 'hex') as fp
        )
        insert into events (id, app_id, environment, device_pk, device_id, user_id, event_name, source, revenue, currency,
                            revenue_raw, currency_raw, properties, event_id, is_control, flags, occurred_at, received_at)
        select i.id, i.app_id, i.environment, i.device_pk, i.device_id, i.user_id, i.event_name, i.source, i.revenue, i.currency,
               i.revenue_raw, i.currency_raw, i.properties::jsonb, i.event_id, left(i.event_name, 1) = '_',
               case when i.flags = '' then '{}'::text[] else string_to_array(i.flags, ',') end, i.at, i.at
        from input i
        where i.fp is null or exists (select 1 from fresh f where f.app_id = i.app_id and f.environment = i.environment and f.fp = i.fp)
        order by i.ord
        on conflict (app_id, environment, event_id) where event_id is not null do nothing
        returning id`;

      if (inserted.length < unique.length) {
        const ok = new Set(inserted.map((r) => r.id));
        for (const e of unique) if (!ok.has(e.id)) bump(suppressed, e);
      }
      if (suppressed.size) {
        const entries = [...suppressed.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => [...k.split('\u0000'), n] as const);
        await tx`
          insert into event_dedup_counts as c (app_id, environment, suppressed)
          select * from unnest(${entries.map((x) => x[0])}::text[], ${entries.map((x) => x[1])}::text[], ${entries.map((x) => x[2])}::bigint[])
          on conflict (app_id, environment) do update set suppressed = c.suppressed + excluded.suppressed, updated_at = now()`;
      }
    });
  }
}

function bump(m: Map<string, number>, e: PendingEvent) {
  const k = `${e.appId}\u0000${e.environment}`;
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** Connection loss, overload, shutdown, serialization/deadlock: the request gets a 503 and is retried. */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  return /^(08|53|57|40001|40P01)/.test(code)
    || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED'].includes(code);
}

/** Deletes fingerprints older than the dedup window (called periodically). */
export async function pruneFingerprints(sql: Sql): Promise<number> {
  const r = await sql`delete from event_fingerprints where seen_at < now() - ${DEDUP_WINDOW_SECONDS * 2} * interval '1 second'`;
  return r.count;
}
