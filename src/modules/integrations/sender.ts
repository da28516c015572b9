/**
 * The `forward_deliveries` job (src/jobs.ts, chained every second): sends due deliveries, one
 * batch per (network, app) at a time, up to the network's batch limit.
 *
 * Exactly once towards the network: a batch is claimed with `for update skip locked` in a
 * transaction that stays open while the request is in flight and records the answer before it
 * commits. Two workers never hold the same delivery; a process killed mid-send drops its
 * connection, so PostgreSQL releases the rows at once and the next run resends them with the same
 * forward id (the network deduplicates); a delivery is never marked delivered without an answer.
 */
import type { Logger } from 'pino';
import type { Sql } from '../../db/client.ts';
import type { Config } from '../../config.ts';
import type { JobContext } from '../../queue/job.ts';
import {
  GoogleTokens,
  sendGoogle,
  sendMeta,
  sendTiktok,
  type BatchResult,
  type Outcome,
} from './clients.ts';
import { BATCH_LIMIT, type Network } from './networks.ts';
import { googleConversion, metaEvent, tiktokEvent, type SendRow } from './payloads.ts';
import { credentialsOf, type Credentials, type IntegrationRow } from './store.ts';
import { foreground } from '../../lib/foreground.ts';

const MAX_BACKOFF_S = 6 * 3600;
const GIVE_UP_MS = 30 * 24 * 3600 * 1000;
/** How long one job run keeps sending before it hands over to the next run of the chain. */
const RUN_BUDGET_MS = 10_000;
/** Batches in flight at once (each holds one database connection while its request runs). */
const PARALLEL = 4;
/** While ingestion backs up (src/lib/foreground.ts): one batch this large per pause this long. */
const TRICKLE_BATCH = 100;
const YIELD_MS = 250;

export type Sender = { tokens: GoogleTokens };
const senders = new WeakMap<Config, Sender>();
/** Per configuration (i.e. per server): Google access tokens are cached here. */
export function senderOf(config: Config): Sender {
  let s = senders.get(config);
  if (!s) senders.set(config, (s = { tokens: new GoogleTokens(config.googleOAuthTokenUrl) }));
  return s;
}

/** The backoff after `attempts` sends: base × 2^(attempts−1), at most 6 h. */
export function backoffSeconds(base: number, attempts: number): number {
  return Math.min(base * 2 ** Math.max(0, attempts - 1), MAX_BACKOFF_S);
}

export async function forwardJob(_payload: unknown, { services, signal }: JobContext) {
  const until = Date.now() + RUN_BUDGET_MS;
  while (Date.now() < until && !signal.aborted) {
    // Ingestion first: while SDK writes back up in this process, a trickle (one small batch per
    // pause); the rest waits for the peak to pass (networks take conversions days old).
    const busy = foreground.isBusy();
    const sent = await forwardDue(
      services.sql,
      services.config,
      services.log,
      busy ? { parallel: 1, batch: TRICKLE_BATCH } : undefined,
    );
    if (!sent) return;
    if (busy) await new Promise((r) => setTimeout(r, YIELD_MS));
  }
}

/** One pass: one batch for every (network, app) with due deliveries. Returns deliveries sent. */
export async function forwardDue(
  sql: Sql,
  config: Config,
  log: Logger,
  limits: { parallel: number; batch?: number } = { parallel: PARALLEL },
): Promise<number> {
  const { parallel } = limits;
  // Each group with its due deliveries counted up to what `parallel` batches could take (a trickle
  // batch is small: counting a thousand-row Meta batch's worth four times a second cost ingestion).
  const countUpTo = parallel * (limits.batch ?? Math.max(...Object.values(BATCH_LIMIT)));
  const groups = await sql<{ app_id: string; network: Network; due: number }[]>`
    select i.app_id, i.network, due.n as due from integrations i
    cross join lateral (
      select count(*)::int as n from (
        select 1 from deliveries d
        where d.network = i.network and d.app_id = i.app_id
          and d.status in ('pending', 'retrying') and d.next_attempt_at <= now()
        limit ${countUpTo}) x) due
    where i.status <> 'unauthorized' and i.enabled and i.configured and due.n > 0`;
  // With fewer groups than slots, a group gets several batches at once (`skip locked` gives each
  // its own rows) — only as many as its backlog fills: three deliveries are one request.
  const slots = Math.max(1, Math.floor(parallel / Math.max(1, groups.length)));
  const tasks = groups.flatMap((g) => {
    const batch = Math.min(limits.batch ?? Infinity, BATCH_LIMIT[g.network]);
    return Array.from({ length: Math.min(slots, Math.ceil(g.due / batch)) }, () => g);
  });
  let sent = 0;
  for (let i = 0; i < tasks.length; i += parallel) {
    const counts = await Promise.all(
      tasks.slice(i, i + parallel).map((g) =>
        sendBatch(sql, config, g.app_id, g.network, limits.batch).catch((err) => {
          log.error({ err, appId: g.app_id, network: g.network }, 'forwarding batch failed');
          return 0;
        }),
      ),
    );
    sent += counts.reduce((a, b) => a + b, 0);
  }
  return sent;
}

type Result = {
  row: SendRow;
  outcome: Outcome;
  httpStatus: number | null;
  response: unknown;
  request: object;
};

async function sendBatch(
  sql: Sql,
  config: Config,
  appId: string,
  network: Network,
  limit = BATCH_LIMIT[network],
) {
  return sql.begin(async (tx) => {
    const [integration] = await tx<IntegrationRow[]>`
      select * from integrations where app_id = ${appId} and network = ${network}`;
    if (!integration || integration.status === 'unauthorized' || !integration.enabled) return 0;
    const rows = await tx<SendRow[]>`
      with claimed as (
        select id from deliveries
        where app_id = ${appId} and network = ${network}
          and status in ('pending', 'retrying') and next_attempt_at <= now()
        order by next_attempt_at, seq
        limit ${Math.min(limit, BATCH_LIMIT[network])}
        for update skip locked)
      select d.id, d.forward_id, d.event_name, d.network_event_name, d.click_kind, d.click_id, d.clicked_at,
             d.attempts, d.created_at, e.received_at as event_received_at, e.revenue::text as revenue,
             e.currency, e.user_id, e.device_id, dv.platform, dv.idfa, dv.gaid, dv.user_agent, dv.app_version,
             dv.os_version, dv.model, dv.locale, dv.timezone, dv.device_info, dv.advanced_matching,
             host(c.ip) as click_ip, c.user_agent as click_user_agent, a.link_id,
             case when dv.platform = 'ios' then ap.ios_bundle_id else coalesce(ap.android_package_name, ap.ios_bundle_id) end as bundle_id
      from claimed
      join deliveries d on d.id = claimed.id
      join events e on e.id = d.event_id
      join apps ap on ap.id = d.app_id
      left join devices dv on dv.id = e.device_pk
      left join attributions a on a.device_pk = e.device_pk
      left join clicks c on c.id = a.click_id
      order by d.next_attempt_at, d.seq`;
    if (!rows.length) return 0;

    const creds = credentialsOf(integration, config.secretKey);
    const results = await send(config, integration, creds, rows);
    await record(tx as unknown as Sql, config, integration, results);
    return rows.length;
  });
}

/** Builds the bodies and sends them: one request, or halves after a batch-level rejection. */
async function send(
  config: Config,
  integration: IntegrationRow,
  c: Credentials,
  rows: SendRow[],
): Promise<Result[]> {
  const http = { timeoutMs: config.forwardTimeoutSeconds * 1000 };
  const network = integration.network;
  const out: Result[] = [];

  if (network === 'google') {
    const ready: { row: SendRow; conv: object }[] = [];
    for (const row of rows) {
      const action = c.conversionActions?.[row.network_event_name];
      if (!action) {
        out.push({
          row,
          outcome: { kind: 'permanent', error: 'no conversion action for this event' },
          httpStatus: null,
          response: null,
          request: {},
        });
      } else ready.push({ row, conv: googleConversion(row, c.customerId ?? '', action) });
    }
    if (ready.length) {
      const r = await sendGoogle(
        config.googleAdsApiUrl,
        senderOf(config).tokens,
        integration.app_id,
        c,
        ready.map((x) => x.conv),
        http,
      );
      const rowsOut = r.rows === 'split' ? [] : r.rows;
      ready.forEach((x, i) =>
        out.push({
          row: x.row,
          outcome: rowsOut[i] ?? { kind: 'permanent', error: 'google: no result' },
          httpStatus: r.httpStatus,
          response: r.rowResponses?.[i] ?? r.response,
          request: { conversions: [x.conv], partialFailure: true, validateOnly: false },
        }),
      );
    }
    return out;
  }

  const build = (row: SendRow) =>
    network === 'meta' ? metaEvent(row) : tiktokEvent(row, config.trackingUrl);
  const call = (events: object[]) =>
    network === 'meta'
      ? sendMeta(config.metaGraphUrl, c, events, http)
      : sendTiktok(config.tiktokApiUrl, c, events, http);
  const envelope = (event: object) =>
    network === 'meta'
      ? { data: [event], ...(c.testEventCode ? { test_event_code: c.testEventCode } : {}) }
      : {
          event_source: 'web',
          event_source_id: c.pixelCode,
          ...(c.testEventCode ? { test_event_code: c.testEventCode } : {}),
          data: [event],
        };
  const events = rows.map(build);
  const push = (r: BatchResult, idx: number[]) => {
    if (r.rows === 'split') throw new Error('unexpected split');
    idx.forEach((i, k) =>
      out.push({
        row: rows[i],
        outcome: (r.rows as Outcome[])[k],
        httpStatus: r.httpStatus,
        response: r.rowResponses?.[k] ?? r.response,
        request: envelope(events[i]),
      }),
    );
  };
  // One bad event fails a whole batch (Meta code 100, TikTok 20001/40002…): halve it until the
  // bad ones stand alone. One bad event among 1 000 costs about 20 requests, not 1 000 — the
  // claiming transaction stays open meanwhile. A single event is never `split` (clients.ts).
  const sendPart = async (idx: number[]): Promise<void> => {
    const r = await call(idx.map((i) => events[i]));
    if (r.rows !== 'split') return push(r, idx);
    const half = Math.ceil(idx.length / 2);
    await sendPart(idx.slice(0, half));
    await sendPart(idx.slice(half));
  };
  await sendPart(rows.map((_, i) => i));
  return out;
}

/** Writes every delivery's result and the integration's status, in the claiming transaction. */
async function record(tx: Sql, config: Config, integration: IntegrationRow, results: Result[]) {
  const now = Date.now();
  const upd = results.map(({ row, outcome, httpStatus, response, request }) => {
    const attempts = row.attempts + 1;
    let status: string;
    let next: Date | null = null;
    let error: string | null = null;
    if (outcome.kind === 'ok') status = 'delivered';
    else if (outcome.kind === 'permanent') {
      status = 'failed';
      error = outcome.error;
    } else {
      error = outcome.error;
      const wait =
        outcome.kind === 'credentials'
          ? 0 // waits for new credentials: the integration is paused
          : Math.max(
              outcome.kind === 'retry' ? (outcome.retryAfterS ?? 0) : 0,
              backoffSeconds(config.forwardRetryBaseSeconds, attempts),
            );
      next = new Date(now + wait * 1000);
      if (next.getTime() - row.created_at.getTime() > GIVE_UP_MS) {
        status = 'failed';
        error = `gave up after 30 days: ${error}`;
        next = null;
      } else status = 'retrying';
    }
    return {
      id: row.id,
      status,
      attempts,
      httpStatus,
      error,
      next: next?.toISOString() ?? null,
      request: JSON.stringify(request),
      response: JSON.stringify(response ?? null),
    };
  });
  const col = <K extends keyof (typeof upd)[number]>(k: K) => upd.map((u) => u[k]) as never;
  await tx`
    update deliveries d set
      status = u.status, attempts = u.attempts, http_status = u.http_status, error = u.error,
      next_attempt_at = u.next, request = u.request::jsonb, response = u.response::jsonb,
      delivered_at = case when u.status = 'delivered' then now() else d.delivered_at end, updated_at = now()
    from unnest(${col('id')}::text[], ${col('status')}::text[], ${col('attempts')}::int[], ${col('httpStatus')}::int[],
                ${col('error')}::text[], ${col('next')}::timestamptz[], ${col('request')}::text[], ${col('response')}::text[])
      as u(id, status, attempts, http_status, error, next, request, response)
    where d.id = u.id`;

  const credentials = results.find((r) => r.outcome.kind === 'credentials');
  const retry = results.find((r) => r.outcome.kind === 'retry');
  const delivered = results.some((r) => r.outcome.kind === 'ok');
  const status = credentials ? 'unauthorized' : retry ? 'failing' : 'ok';
  const lastError = credentials ?? retry;
  // A pause for credentials holds until new ones are saved (PATCH): a batch sent alongside the one
  // that was refused, and answered after it, must not resume the integration.
  await tx`
    update integrations set
      status = case when status = 'unauthorized' then status else ${status} end,
      last_error = case when status = 'unauthorized' then last_error
                        else ${lastError && 'error' in lastError.outcome ? lastError.outcome.error : null} end,
      last_delivery_at = case when ${delivered} then now() else last_delivery_at end
    where app_id = ${integration.app_id} and network = ${integration.network}`;
}

/**
 * Retention (docs/spec/product.md §13): the retry queue keeps a delivery 30 days (one still waiting then,
 * e.g. behind an integration paused for its credentials, is given up), the audit log 365 days.
 */
export async function deliveryRetentionJob(_payload: unknown, { services, log }: JobContext) {
  const given = await services.sql`
    update deliveries set status = 'failed', next_attempt_at = null, updated_at = now(),
      error = 'gave up after 30 days: ' || coalesce(error, 'never sent')
    where status in ('pending', 'retrying') and created_at < now() - interval '30 days'`;
  const r = await services.sql`
    delete from deliveries where created_at < now() - interval '365 days'`;
  if (r.count || given.count)
    log.info({ deleted: r.count, givenUp: given.count }, 'delivery retention');
}
