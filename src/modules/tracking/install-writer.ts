/**
 * The install write of configure, set-based. Installs that arrive while earlier ones commit go
 * together (src/lib/batcher.ts) into one transaction and one statement: every device upsert, every
 * attribution, user link and `install` event of the batch. Each table's analytics trigger then
 * fires once per batch, and PostgreSQL starts one statement instead of one per install; each
 * caller still answers only once its install is durable.
 *
 * Of two first configures of the same device only one takes its attribution id (the device row
 * keeps the first), so exactly one install is created and both answers carry its attribution.
 */
import type { Logger } from 'pino';
import type { Sql } from '../../db/client.ts';
import { Batcher } from '../../lib/batcher.ts';
import type { Resolution } from '../attribution/engine.ts';
import { recordDeliveries } from '../integrations/outbox.ts';
import type { StoredAttribution } from './configure-response.ts';
import {
  DEVICE_COLUMNS,
  DEVICE_MERGE,
  DEVICE_RECORD_TYPE,
  type DeviceExtra,
  type DeviceKey,
  deviceRecord,
} from './device-store.ts';
import type { ConfigureBody } from './sdk-body.ts';

export type NewInstall = {
  attributionId: string;
  installEventId: string;
  key: DeviceKey;
  body: ConfigureBody;
  platform: string;
  resolution: Resolution;
  /** `installedAt` set: the install time. */
  extra: DeviceExtra;
  /** Conversion deliveries are recorded for the install event (an ad network's install). */
  forward: boolean;
  /** More work in the same transaction once the install is written (job queueing). */
  after?: (tx: Sql, devicePk: string) => Promise<void>;
};

export type WrittenInstall = StoredAttribution & { device_pk: string };

export class InstallWriter {
  private readonly batcher: Batcher<NewInstall, WrittenInstall>;

  constructor(sql: Sql, log: Logger, opts = { maxBatch: 64, maxConcurrent: 3 }) {
    this.batcher = new Batcher(
      (batch) => sql.begin((tx) => writeInstalls(tx as unknown as Sql, batch)),
      {
        ...opts,
        foreground: true,
        // Alone, each install in its own transaction: a bad one, two installs of one device in
        // a batch, or a deadlock between batches fails nobody else.
        retryAlone: (err, size) => {
          log.warn({ err, size }, 'install batch failed; writing its installs one by one');
          return true;
        },
      },
    );
  }

  /**
   * Resolves with the stored attribution (a concurrent configure's, if it won) once committed.
   * (`submit`/`drain`, as the other batch writers: EventWriter, WebhookWriter, PostbackWriter.)
   */
  submit(install: NewInstall): Promise<WrittenInstall> {
    return this.batcher.submit(install);
  }

  /** Waits until every install handed in is written (shutdown). */
  drain(): Promise<void> {
    return this.batcher.drain();
  }
}

/** The record of one install as the statement reads it (`jsonb_to_recordset`): its device and its attribution. */
function record(i: NewInstall, ord: number) {
  const { body: b, extra, resolution: r, key } = i;
  const f = r.fields;
  const explanation =
    r.apple?.kind === 'attributed' && r.apple.record.testData
      ? { ...r.explanation, asaTestData: true }
      : r.explanation;
  return {
    ord,
    device: deviceRecord(key, b, extra, i.attributionId),
    app_id: key.appId,
    environment: key.environment,
    device_id: key.deviceId,
    installed_at: extra.installedAt!.toISOString(),
    attribution_id: i.attributionId,
    event_id: i.installEventId,
    platform: i.platform,
    status: r.status,
    network: f.network,
    match_type: f.match_type,
    campaign: f.campaign,
    campaign_id: f.campaign_id,
    campaign_name: f.campaign_name,
    ad_group_id: f.ad_group_id,
    ad_group_name: f.ad_group_name,
    ad_id: f.ad_id,
    keyword: f.keyword,
    link_id: f.link_id,
    click_id: f.click_id,
    fbclid: f.fbclid,
    gclid: f.gclid,
    ttclid: f.ttclid,
    query_params: f.query_params,
    custom_data: f.custom_data,
    clicked_at: f.clicked_at,
    country: f.country ?? extra.country,
    explanation,
  };
}

const RECORD_COLUMNS = `ord int, device jsonb, app_id text, environment text, device_id text, installed_at timestamptz,
  attribution_id text, event_id text, platform text, status text, network text, match_type text, campaign text,
  campaign_id text, campaign_name text, ad_group_id text, ad_group_name text, ad_id text, keyword text, link_id text,
  click_id text, fbclid text, gclid text, ttclid text, query_params jsonb, custom_data jsonb, clicked_at timestamptz,
  country text, explanation jsonb`;

/**
 * Writes a batch of new installs in the caller's transaction: one statement for the devices
 * (merged as every configure merges them, `DEVICE_MERGE`), attributions, user links and install
 * events, then the outbox and each install's `after`.
 */
/**
 * What the configure answer needs of an attribution (`StoredAttribution`) and its device: only
 * these come back, not the explanation and the rest of the row, which each answer parsed for nothing.
 */
const ANSWER_COLUMNS = [
  'id',
  'status',
  'network',
  'match_type',
  'campaign',
  'campaign_id',
  'campaign_name',
  'ad_group_id',
  'ad_id',
  'keyword',
  'click_id',
  'fbclid',
  'gclid',
  'ttclid',
  'query_params',
  'custom_data',
  'installed_at',
  'created_at',
  'device_pk',
] as const satisfies readonly (keyof WrittenInstall)[];
// Compiles only while every field of the answer type is in the list.
const everyAnswerField: Exclude<keyof WrittenInstall, (typeof ANSWER_COLUMNS)[number]> extends never
  ? true
  : never = true;
void everyAnswerField;
const ANSWER = ANSWER_COLUMNS.join(', ');
const ANSWER_OF_ATT = ANSWER_COLUMNS.map((c) => `att.${c}`).join(', ');

export async function writeInstalls(tx: Sql, batch: NewInstall[]): Promise<WrittenInstall[]> {
  const records = batch.map(record);
  const rows = await tx<(StoredAttribution & { ord: number; device_pk_out: string })[]>`
    with r as (
      select * from jsonb_to_recordset(${JSON.stringify(records)}::text::jsonb) as x(${tx.unsafe(RECORD_COLUMNS)})),
    d as (
      select r.ord, d.* from r, jsonb_to_record(r.device) as d(${tx.unsafe(DEVICE_RECORD_TYPE)})),
    dev as (
      insert into devices (${tx.unsafe(DEVICE_COLUMNS)})
      select ${tx.unsafe(DEVICE_COLUMNS)}
      from d order by app_id, environment, device_id -- one lock order for concurrent batches: no cycles
      on conflict (app_id, environment, device_id) do update set ${tx.unsafe(DEVICE_MERGE)}
      returning id, app_id, environment, device_id, attribution_id as taken, customer_user_id as current_user_id),
    j as (
      select r.*, d.customer_user_id, dev.id as device_pk, dev.taken, dev.current_user_id
      from r join d using (ord)
      join dev on (dev.app_id, dev.environment, dev.device_id) = (r.app_id, r.environment, r.device_id)),
    att as (
      insert into attributions (
        id, app_id, environment, device_pk, device_id, platform, status, network, match_type, campaign, campaign_id, campaign_name,
        ad_group_id, ad_group_name, ad_id, keyword, link_id, click_id, fbclid, gclid, ttclid, query_params, custom_data,
        clicked_at, installed_at, country, explanation, created_at, updated_at)
      select attribution_id, app_id, environment, device_pk, device_id, platform, status, network, match_type, campaign,
             campaign_id, campaign_name, ad_group_id, ad_group_name, ad_id, keyword, link_id, click_id, fbclid, gclid, ttclid,
             coalesce(query_params, '{}'), coalesce(custom_data, '{}'), clicked_at, installed_at, country,
             coalesce(explanation, '{}'), installed_at, installed_at
      from j where taken = attribution_id
      on conflict (device_pk) do nothing
      returning ${tx.unsafe(ANSWER)}),
    usr as (
      insert into device_users (device_pk, user_id, app_id, environment, first_linked_at, linked_at)
      select device_pk, customer_user_id, app_id, environment, installed_at, installed_at from j
      where customer_user_id is not null
      on conflict (device_pk, user_id) do update set linked_at = excluded.linked_at
      returning 1),
    evt as (
      insert into events (id, app_id, environment, device_pk, device_id, user_id, event_name, source, properties, occurred_at, received_at)
      select j.event_id, j.app_id, j.environment, att.device_pk, j.device_id, j.current_user_id, 'install', 'system',
             jsonb_build_object('platform', j.platform), j.installed_at, j.installed_at
      from att join j on j.device_pk = att.device_pk
      returning 1)
    select j.ord, ${tx.unsafe(ANSWER_OF_ATT)}, j.device_pk as device_pk_out
    from j left join att on att.device_pk = j.device_pk
    order by j.ord`;
  const byOrd = new Map(rows.map((r) => [r.ord, r]));

  const forwarded = batch.filter((b, i) => b.forward && byOrd.get(i)?.id);
  if (forwarded.length)
    await recordDeliveries(
      tx,
      forwarded.map((b) => b.installEventId),
      new Set(forwarded.map((b) => b.key.appId)),
    );

  // A concurrent configure of the same device won the race: answer with its attribution.
  const lost = rows.filter((r) => !r.id).map((r) => r.device_pk_out);
  const winners = lost.length
    ? await tx<WrittenInstall[]>`
        select ${tx.unsafe(ANSWER)} from attributions where device_pk = any(${lost}::bigint[])`
    : [];

  const out: WrittenInstall[] = [];
  for (const [i, install] of batch.entries()) {
    const row = byOrd.get(i);
    if (!row) throw new Error('install batch: a device row is missing from the answer');
    if (!row.id) {
      const winner = winners.find((w) => String(w.device_pk) === String(row.device_pk_out));
      if (!winner) throw new Error('install batch: the concurrent attribution is missing');
      out.push(winner);
      continue;
    }
    await install.after?.(tx, row.device_pk_out);
    const { ord: _, device_pk_out: __, ...attribution } = row;
    out.push(attribution as unknown as WrittenInstall);
  }
  return out;
}
