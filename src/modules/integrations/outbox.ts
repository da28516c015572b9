/**
 * The outbox: deliveries are recorded in the transaction that records their events, so there is
 * no event without its deliveries and no delivery for an event that rolled back. The
 * `forward_deliveries` job (sender.ts) sends them.
 *
 * One set-based statement per batch of events: each event of a device attributed to a network
 * (the attribution's network, or a click id of that network) gets one row per integration the app
 * has for that network — `pending` when it is to be sent, `skipped` with the reason otherwise.
 * Events of organic devices, of devices from other networks, of apps without integrations, and
 * control events (`_…`) cost one index probe and write nothing.
 *
 * Every source of events calls it: SDK events (tracking/event-writer.ts), the system `install`
 * (tracking/configure.ts), webhook events and qualified trials (webhooks/): whatever inserts rows
 * into `events` calls `recordDeliveries(tx, ids)` in the same transaction.
 */
import type { TransactionSql } from 'postgres';
import type { Sql } from '../../db/client.ts';
import { DEFAULT_MAPPING, NETWORKS } from './networks.ts';

/** The default mapping the outbox function takes (the SDK's batch statement calls it too). */
export { DEFAULT_MAPPING };

type Tx = Sql | TransactionSql<Record<string, never>>;

/**
 * Whether an attribution can have deliveries at all (an ad network's, or carrying its click id):
 * lets a writer skip the outbox statement, and its transaction, for every other install.
 */
export function mayForward(a: {
  network: string;
  fbclid?: string | null;
  gclid?: string | null;
  ttclid?: string | null;
}): boolean {
  return (NETWORKS as readonly string[]).includes(a.network) || !!(a.fbclid || a.gclid || a.ttclid);
}

/**
 * Records the deliveries of these events (ids `evt_…`, already inserted in this transaction) of
 * these apps: the apps let the function return at once when none of them forwards anywhere.
 */
export async function recordDeliveries(
  db: Tx,
  eventIds: string[],
  appIds: Iterable<string>,
): Promise<void> {
  if (!eventIds.length) return;
  // One statement in a function (migrations 0014, 0016): see there why it is not inline SQL.
  await (db as Sql)`select record_deliveries(${eventIds}::text[], ${[...new Set(appIds)]}::text[], ${(db as Sql).json(DEFAULT_MAPPING)})`;
}
