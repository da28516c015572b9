/**
 * RevenueCat webhook payloads (docs/spec/external-apis.md §4) → SubscriptionEvent. The type table
 * is §4.2's suggested handling; docs/webhooks.md lists it as built.
 */
import { storableJson } from '../tracking/sdk-body.ts';
import {
  adId,
  amount,
  environmentOf,
  isObj,
  type LifecycleEventName,
  msDate,
  type Obj,
  PayloadError,
  str,
  strings,
  type SubscriptionEvent,
  unique,
} from './subscription-event.ts';

/** Types recorded under a fixed name; INITIAL_PURCHASE and CANCELLATION depend on fields. */
const SIMPLE: Record<string, LifecycleEventName> = {
  RENEWAL: 'purchase',
  NON_RENEWING_PURCHASE: 'purchase',
  EXPIRATION: 'expiration',
  UNCANCELLATION: 'uncancellation',
  BILLING_ISSUE: 'billing_issue',
  PRODUCT_CHANGE: 'product_change',
  SUBSCRIPTION_PAUSED: 'subscription_paused',
  SUBSCRIPTION_EXTENDED: 'subscription_extended',
  TRANSFER: 'subscription_transferred',
  TEMPORARY_ENTITLEMENT_GRANT: 'temporary_entitlement_grant',
  REFUND_REVERSED: 'refund_reversed',
};

/** Fields copied onto the recorded event's properties (what the event log shows). */
const KEPT = [
  'type',
  'id',
  'product_id',
  'new_product_id',
  'period_type',
  'store',
  'environment',
  'entitlement_ids',
  'transaction_id',
  'original_transaction_id',
  'is_trial_conversion',
  'cancel_reason',
  'expiration_reason',
  'price',
  'price_in_purchased_currency',
  'currency',
  'country_code',
  'offer_code',
  'presented_offering_id',
  'renewal_number',
  'purchased_at_ms',
  'expiration_at_ms',
  'is_family_share',
  'transferred_from',
  'transferred_to',
] as const;

export function fromRevenueCat(body: unknown, receivedAt: Date): SubscriptionEvent {
  if (!isObj(body)) throw new PayloadError('The body must be a JSON object');
  const e = body.event;
  if (!isObj(e)) throw new PayloadError('event is required and must be an object');
  const externalId = str(e.id);
  if (!externalId) throw new PayloadError('event.id is required and must be a non-empty string');
  const type = str(e.type, 128);
  if (!type) throw new PayloadError('event.type is required and must be a non-empty string');

  const attrs = isObj(e.subscriber_attributes) ? e.subscriber_attributes : {};
  const attr = (k: string) => {
    const a = attrs[k];
    return isObj(a) ? str(a.value) : str(a);
  };
  const price = amount(e.price_in_purchased_currency, e.currency, e.price);
  const refund =
    type === 'CANCELLATION' && (e.cancel_reason === 'CUSTOMER_SUPPORT' || (price.revenue ?? 0) < 0);
  const trialStart = type === 'INITIAL_PURCHASE' && e.period_type === 'TRIAL';

  let eventName: SubscriptionEvent['eventName'];
  if (type === 'TEST') eventName = 'test';
  else if (type === 'INITIAL_PURCHASE') eventName = trialStart ? 'start_trial' : 'purchase';
  else if (type === 'CANCELLATION') eventName = refund ? 'refund' : 'cancellation';
  else eventName = SIMPLE[type] ?? 'ignored';

  const withRevenue = ['purchase', 'refund', 'refund_reversed'].includes(eventName);
  const transfer =
    type === 'TRANSFER'
      ? { from: strings(e.transferred_from), to: strings(e.transferred_to) }
      : null;
  const properties: Obj = { revenuecat_event_id: externalId };
  for (const k of KEPT) if (e[k] !== undefined && e[k] !== null) properties[k] = e[k];

  return {
    source: 'revenuecat',
    externalId,
    type,
    environment: environmentOf(e.environment),
    eventName,
    appreferId: attr('appreferId') ?? attr('apprefer_id'),
    userIds: unique([
      str(e.app_user_id),
      str(e.original_app_user_id),
      ...strings(e.aliases),
      ...(transfer?.from ?? []),
    ]),
    idfa: adId(attr('$idfa')),
    gaid: adId(attr('$gpsAdId')),
    userId: str(e.app_user_id) ?? str(e.original_app_user_id) ?? transfer?.to[0] ?? null,
    revenue: withRevenue ? price.revenue : null,
    currency: withRevenue ? price.currency : null,
    productId: str(e.product_id),
    subscriptionKey: str(e.original_transaction_id) ?? str(e.transaction_id),
    trialStart,
    endsTrial:
      type === 'CANCELLATION'
        ? refund
          ? 'refunded during the hold'
          : `cancelled during the hold (${str(e.cancel_reason, 64) ?? 'UNKNOWN'})`
        : type === 'EXPIRATION'
          ? `expired during the hold (${str(e.expiration_reason, 64) ?? 'UNKNOWN'})`
          : null,
    transfer,
    occurredAt: msDate(e.event_timestamp_ms) ?? receivedAt,
    purchasedAt: msDate(e.purchased_at_ms),
    properties: storableJson(properties) as Obj,
  };
}
