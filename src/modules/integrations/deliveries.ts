/** The deliveries audit log: list with filters (keyset on seq, newest first) and manual retry. */
import type { Sql } from '../../db/client.ts';
import { NETWORKS } from './networks.ts';

export type DeliveryRow = {
  seq: string;
  id: string;
  app_id: string;
  network: 'meta' | 'google' | 'tiktok';
  event_id: string;
  event_name: string;
  network_event_name: string | null;
  forward_id: string;
  click_id: string | null;
  status: 'pending' | 'retrying' | 'delivered' | 'failed' | 'skipped';
  attempts: number;
  http_status: number | null;
  error: string | null;
  next_attempt_at: Date | null;
  request: Record<string, unknown> | null;
  response: unknown;
  created_at: Date;
  delivered_at: Date | null;
};

export async function listDeliveries(
  sql: Sql,
  appId: string,
  f: {
    limit: number;
    afterSeq: string | null;
    network: string | null;
    status: string | null;
    eventId: string | null;
    from: Date | null;
    to: Date | null;
  },
): Promise<DeliveryRow[]> {
  return sql<DeliveryRow[]>`
    select * from deliveries
    where app_id = ${appId}
      ${f.afterSeq ? sql`and seq < ${f.afterSeq}` : sql``}
      ${f.network ? sql`and network = ${f.network}` : sql``}
      ${f.status ? sql`and status = ${f.status}` : sql``}
      ${f.eventId ? sql`and forward_id = any(${forwardIdsOf(f.eventId)}::text[]) and event_id = ${f.eventId}` : sql``}
      ${f.from ? sql`and created_at >= ${f.from}` : sql``}
      ${f.to ? sql`and created_at <= ${f.to}` : sql``}
    order by seq desc
    limit ${f.limit + 1}`;
}

/** An event's deliveries have these forward ids (outbox.ts), so the unique index finds them. */
function forwardIdsOf(eventId: string): string[] {
  return NETWORKS.map((n) => `fwd_${n}_${eventId.slice(4)}`);
}

/** An event's forwarding result per network, as the event log shows it. */
export type Forwarding = {
  network: string;
  deliveryId: string;
  status: DeliveryRow['status'];
  networkEventName: string | null;
  attempts: number;
  error: string | null;
  deliveredAt: string | null;
};

/** The deliveries of these events (ids `evt_…`), by event: one index probe per event and network. */
export async function forwardingOf(
  sql: Sql,
  eventIds: string[],
): Promise<Map<string, Forwarding[]>> {
  const out = new Map<string, Forwarding[]>();
  if (!eventIds.length) return out;
  const rows = await sql<DeliveryRow[]>`
    select * from deliveries where forward_id = any(${eventIds.flatMap(forwardIdsOf)}::text[])
    order by network`;
  for (const r of rows) {
    const list = out.get(r.event_id) ?? [];
    list.push({
      network: r.network,
      deliveryId: r.id,
      status: r.status,
      networkEventName: r.network_event_name,
      attempts: r.attempts,
      error: r.error,
      deliveredAt: r.delivered_at?.toISOString() ?? null,
    });
    out.set(r.event_id, list);
  }
  return out;
}

export async function getDelivery(sql: Sql, appId: string, id: string) {
  const [row] = await sql<DeliveryRow[]>`
    select * from deliveries where app_id = ${appId} and id = ${id}`;
  return row ?? null;
}

/** Queues a delivery for sending now; answers why not when it cannot be sent. */
export async function retryDelivery(sql: Sql, d: DeliveryRow): Promise<DeliveryRow | string> {
  if (d.status === 'delivered') return 'This delivery was already delivered';
  if (!d.click_id) return 'This delivery cannot be sent: no click id for this network';
  if (!d.network_event_name) return 'This delivery cannot be sent: the event is not mapped';
  const [row] = await sql<DeliveryRow[]>`
    update deliveries d set status = case when d.status = 'skipped' then 'pending' else 'retrying' end,
      next_attempt_at = now(), error = null, updated_at = now()
    from events e
    where d.id = ${d.id} and d.app_id = ${d.app_id} and e.id = d.event_id
      and e.environment = 'live' and d.status <> 'delivered'
    returning d.*`;
  return row ?? 'This delivery cannot be sent: sandbox events are never forwarded';
}

export function toDeliveryResource(r: DeliveryRow) {
  return {
    id: r.id,
    network: r.network,
    eventId: r.event_id,
    eventName: r.event_name,
    networkEventName: r.network_event_name,
    forwardId: r.forward_id,
    status: r.status,
    attempts: r.attempts,
    httpStatus: r.http_status,
    error: r.error,
    nextAttemptAt: r.next_attempt_at?.toISOString() ?? null,
    request: r.request,
    response: r.response ?? null,
    createdAt: r.created_at.toISOString(),
    deliveredAt: r.delivered_at?.toISOString() ?? null,
  };
}
