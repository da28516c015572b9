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
import { newTimeOrderedId } from '../../lib/crypto.ts';
import type { JobContext } from '../../queue/job.ts';
import type { Environment } from '../attribution/waterfall.ts';
import { eventFingerprint, type EventBody } from './sdk-body.ts';
import { linkUser } from './device-store.ts';
import { DEFAULT_MAPPING } from '../integrations/outbox.ts';
import { Batcher } from '../../lib/batcher.ts';
import { retryRowsAlone } from '../../db/errors.ts';

export const DEDUP_WINDOW_SECONDS = 120;
const DEVICE_CACHE_MAX = 200_000;

export type PendingEvent = {
  appId: string;
  environment: Environment;
  body: EventBody;
  source: 'sdk' | 's2s';
  flags: string[];
  /** Currency used when the event has revenue but no valid currency. */
  defaultCurrency: string;
  receivedAt: Date;
  /** Size of the request body it came in: what the event costs in memory (about 3× on the heap). */
  bytes?: number;
};

export class OverloadedError extends Error {}

type Queued = PendingEvent & {
  id: string;
  fingerprint: string | null;
};

export type WriterOptions = {
  maxBatch?: number;
  maxConcurrent?: number;
  maxQueue?: number;
  /** Body bytes of the events queued or being written; past it, `OverloadedError` (503). */
  maxQueueBytes?: number;
};

export class EventWriter {
  private readonly batcher: Batcher<Queued>;
  private readonly maxQueue: number;
  private readonly maxQueueBytes: number;
  private heldBytes = 0;
  private held = 0;
  private readonly deviceCache = new Map<string, string>();

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    opts: WriterOptions = {},
  ) {
    this.maxQueue = opts.maxQueue ?? 20_000;
    this.maxQueueBytes = opts.maxQueueBytes ?? 64 * 1024 * 1024;
    this.batcher = new Batcher<Queued>((batch) => this.write(batch), {
      maxBatch: opts.maxBatch ?? 1000,
      maxConcurrent: opts.maxConcurrent ?? 2,
      foreground: true,
      retryAlone: retryRowsAlone(this.log, 'event batch failed; retrying its events one by one'),
    });
  }

  /** Events (and their body bytes) accepted and not yet settled: queued or being written. */
  get inFlight() {
    return { events: this.held, bytes: this.heldBytes };
  }

  /** Resolves once the event (or the decision that it is a duplicate) is committed. */
  submit(e: PendingEvent): Promise<void> {
    const bytes = e.bytes ?? 0;
    if (this.batcher.queued >= this.maxQueue)
      return Promise.reject(new OverloadedError('event queue full'));
    if (this.held > 0 && this.heldBytes + bytes > this.maxQueueBytes)
      return Promise.reject(new OverloadedError('event queue full (bytes)'));
    const fingerprint = e.body.eventId ? null : eventFingerprint(e.appId, e.environment, e.body);
    this.held++;
    this.heldBytes += bytes;
    return this.batcher.submit({ ...e, id: newTimeOrderedId('evt'), fingerprint }).finally(() => {
      this.held--;
      this.heldBytes -= bytes;
    });
  }

  /** Waits until every queued event is written (shutdown). */
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  /**
   * Device keys (`deviceKey`) → devices.id, creating stubs for unknown devices. Known ids are
   * cached in process (a device row is never re-keyed), so steady traffic costs no device write.
   */
  private async devicePks(tx: Sql, keys: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    // Per (app, environment): `device_id = any(…)` keeps the lookup on the unique index whatever
    // the planner guesses about the batch size.
    const groups = new Map<string, { app: string; env: string; ids: string[] }>();
    for (const k of keys) {
      const pk = this.deviceCache.get(k);
      if (pk) {
        out.set(k, pk);
        continue;
      }
      const appEnd = k.indexOf('\u0000');
      const envEnd = k.indexOf('\u0000', appEnd + 1);
      const group = k.slice(0, envEnd);
      const g = groups.get(group) ?? {
        app: k.slice(0, appEnd),
        env: k.slice(appEnd + 1, envEnd),
        ids: [],
      };
      g.ids.push(k.slice(envEnd + 1));
      groups.set(group, g);
    }
    for (const { app, env, ids } of groups.values()) {
      const found = await tx<{ id: string; device_id: string }[]>`
        with ins as (
          insert into devices (app_id, environment, device_id)
          select ${app}, ${env}, unnest(${ids}::text[])
          on conflict (app_id, environment, device_id) do nothing
          returning id, device_id)
        select id, device_id from ins
        union all
        select id, device_id from devices where app_id = ${app} and environment = ${env} and device_id = any(${ids}::text[])`;
      for (const d of found) out.set(deviceKey(app, env, d.device_id), d.id);
      const late = ids.filter((id) => !out.has(deviceKey(app, env, id)));
      if (late.length) {
        // Created by a concurrent transaction after this statement's snapshot: visible now.
        const rows = await tx<{ id: string; device_id: string }[]>`
          select id, device_id from devices where app_id = ${app} and environment = ${env} and device_id = any(${late}::text[])`;
        for (const d of rows) out.set(deviceKey(app, env, d.device_id), d.id);
      }
    }
    return out;
  }

  private async write(batch: Queued[]): Promise<void> {
    // Duplicates inside the batch itself: the first occurrence wins.
    const seen = new Set<string>();
    const unique: Queued[] = [];
    const suppressed = new Map<string, number>();
    for (const e of batch) {
      const k = `${e.appId}\u0000${e.environment}\u0000${e.body.eventId ? `id:${e.body.eventId}` : `fp:${e.fingerprint}`}`;
      if (seen.has(k)) {
        bump(suppressed, e);
        continue;
      }
      seen.add(k);
      unique.push(e);
    }

    // Devices: created lazily for unknown ones (a stub, not an install), in their own statement (a
    // stub is harmless if the batch then fails). Sorted keys keep the row-lock order identical
    // across concurrent batches (no deadlocks).
    const deviceKeys = unique.map((e) => deviceKey(e.appId, e.environment, e.body.deviceId));
    const pks = await this.devicePks(this.sql, [...new Set(deviceKeys)].sort());
    const devicePk = (i: number) => pks.get(deviceKeys[i])!;

    // Control events act on the device; repeating them is harmless (idempotent by design), so they
    // need not share the events' transaction.
    for (const [i, e] of unique.entries()) {
      if (e.body.eventName === '_set_user_id') {
        const userId = e.body.properties.user_id;
        if (typeof userId === 'string' && userId !== '' && userId.length <= 512) {
          await linkUser(this.sql, devicePk(i), e.appId, e.environment, userId, e.receivedAt);
        }
      } else if (
        e.body.eventName === '_advanced_matching' &&
        Object.keys(e.body.advancedMatching).length
      ) {
        await this
          .sql`update devices set advanced_matching = advanced_matching || ${this.sql.json(e.body.advancedMatching)} where id = ${devicePk(i)}`;
      }
    }

    const rows = unique.map((e, i) => {
      const b = e.body;
      const currency = b.revenue !== null ? (b.currency ?? e.defaultCurrency) : b.currency;
      const flags = [...e.flags];
      if (b.implausibleRevenue) flags.push('revenue_implausible');
      if (b.revenueOutOfRange) flags.push('revenue_out_of_range');
      if (b.propertiesDropped) flags.push('properties_dropped');
      if (b.revenue !== null && b.currency === null) flags.push('currency_defaulted');
      const properties =
        b.eventName === '_advanced_matching'
          ? { advanced_matching: b.advancedMatching }
          : b.properties;
      return {
        id: e.id,
        app: e.appId,
        env: e.environment,
        pk: devicePk(i),
        device: b.deviceId,
        name: b.eventName,
        source: e.source,
        revenue: b.revenue === null ? null : String(b.revenue),
        currency,
        revenueRaw: b.revenueRaw,
        currencyRaw: b.currencyRaw,
        props: JSON.stringify(properties),
        eventId: b.eventId,
        flags: flags.join(','),
        at: e.receivedAt.toISOString(),
        fp: e.fingerprint,
      };
    });
    const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]) as never;
    const dupes = [...suppressed.entries()].map(([k, n]) => [...k.split('\u0000'), n] as const);

    // Dedup, insert, conversion outbox and duplicate counts: one statement (migration 0017).
    await this.sql`
      select ingest_events(
        ${col('id')}::text[], ${col('app')}::text[], ${col('env')}::text[], ${col('pk')}::bigint[], ${col('device')}::text[],
        ${col('name')}::text[], ${col('source')}::text[], ${col('revenue')}::numeric[], ${col('currency')}::text[],
        ${col('revenueRaw')}::text[], ${col('currencyRaw')}::text[], ${col('props')}::text[], ${col('eventId')}::text[],
        ${col('flags')}::text[], ${col('at')}::timestamptz[], ${col('fp')}::text[], ${DEDUP_WINDOW_SECONDS}::int,
        ${dupes.map((d) => d[0])}::text[], ${dupes.map((d) => d[1])}::text[], ${dupes.map((d) => d[2])}::bigint[],
        ${this.sql.json(DEFAULT_MAPPING)})`;
    // Cached once the batch is written (the device rows committed before it).
    if (this.deviceCache.size > DEVICE_CACHE_MAX) this.deviceCache.clear();
    for (const [k, pk] of pks) this.deviceCache.set(k, pk);
  }
}

/** A device's key in a batch and in the cache: app ids and environments hold no NUL, so it parses back. */
const deviceKey = (appId: string, environment: string, deviceId: string) =>
  `${appId}\u0000${environment}\u0000${deviceId}`;

function bump(m: Map<string, number>, e: PendingEvent) {
  const k = `${e.appId}\u0000${e.environment}`;
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** Deletes fingerprints older than the dedup window. */
export async function pruneFingerprints(sql: Sql): Promise<number> {
  const r =
    await sql`delete from event_fingerprints where seen_at < now() - ${DEDUP_WINDOW_SECONDS * 2} * interval '1 second'`;
  return r.count;
}

/** The job that runs every minute (src/jobs.ts). */
export async function pruneFingerprintsJob(
  _payload: unknown,
  { services }: JobContext,
): Promise<void> {
  await pruneFingerprints(services.sql);
}
