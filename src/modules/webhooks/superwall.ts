/**
 * Superwall webhooks (docs/spec/external-apis.md §5): the Svix signature over the raw bytes, and
 * the payload → SubscriptionEvent, mapped like RevenueCat's types.
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../../lib/crypto.ts';
import { storableJson } from '../tracking/sdk-body.ts';
import {
  amount,
  environmentOf,
  isObj,
  type LifecycleEventName,
  msDate,
  type Obj,
  PayloadError,
  str,
  type SubscriptionEvent,
  unique,
} from './subscription-event.ts';

/** Svix refuses a timestamp further than this from now, either way (replays). */
export const SVIX_TOLERANCE_SECONDS = 5 * 60;

export type SvixHeaders = { id: string | null; timestamp: string | null; signature: string | null };

/** Why a delivery is refused (answered 401), or null when one `v1,` signature matches. */
export function svixRefusal(
  secret: string,
  h: SvixHeaders,
  raw: Buffer,
  now = Date.now(),
): string | null {
  if (!h.id || !h.timestamp || !h.signature)
    return 'svix-id, svix-timestamp and svix-signature headers are required';
  if (!/^\d{1,12}$/.test(h.timestamp)) return 'svix-timestamp must be Unix seconds';
  if (Math.abs(now / 1000 - Number(h.timestamp)) > SVIX_TOLERANCE_SECONDS)
    return 'svix-timestamp is more than 5 minutes away from now';
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  const expected = createHmac('sha256', key)
    .update(`${h.id}.${h.timestamp}.`)
    .update(raw)
    .digest('base64');
  let ok = false;
  for (const entry of h.signature.split(' ')) {
    const [version, sig] = entry.split(',', 2);
    // Every entry is compared (no early exit): the time taken does not tell which one matched.
    if (version === 'v1' && sig !== undefined && safeEqual(sig, expected)) ok = true;
  }
  return ok ? null : 'no svix-signature entry matches';
}

const NAMES: Record<string, LifecycleEventName> = {
  renewal: 'purchase',
  non_renewing_purchase: 'purchase',
  uncancellation: 'uncancellation',
  expiration: 'expiration',
  billing_issue: 'billing_issue',
  product_change: 'product_change',
  subscription_paused: 'subscription_paused',
};

const KEPT = [
  'id',
  'name',
  'productId',
  'newProductId',
  'periodType',
  'store',
  'environment',
  'transactionId',
  'originalTransactionId',
  'isTrialConversion',
  'cancelReason',
  'expirationReason',
  'price',
  'proceeds',
  'priceInPurchasedCurrency',
  'currencyCode',
  'exchangeRate',
  'countryCode',
  'offerCode',
  'purchasedAt',
  'expirationAt',
  'isFamilyShare',
  'bundleId',
] as const;

export function fromSuperwall(body: unknown, svixId: string, receivedAt: Date): SubscriptionEvent {
  if (!isObj(body)) throw new PayloadError('The body must be a JSON object');
  const d = body.data;
  if (!isObj(d)) throw new PayloadError('data is required and must be an object');
  const type = str(d.name, 128) ?? str(body.type, 128);
  if (!type) throw new PayloadError('data.name (or type) is required and must be a string');

  const attrs = isObj(d.userAttributes) ? d.userAttributes : {};
  const price = amount(d.priceInPurchasedCurrency, d.currencyCode, d.price);
  // Superwall shows a refund only as a negative price (which event carries it is unconfirmed).
  const refund = (price.revenue ?? 0) < 0 || d.cancelReason === 'CUSTOMER_SUPPORT';
  const trialStart = type === 'initial_purchase' && d.periodType === 'TRIAL' && !refund;

  let eventName: SubscriptionEvent['eventName'];
  if (refund) eventName = 'refund';
  else if (type === 'initial_purchase') eventName = trialStart ? 'start_trial' : 'purchase';
  else if (type === 'cancellation') eventName = 'cancellation';
  else eventName = NAMES[type] ?? 'ignored';

  const withRevenue = ['purchase', 'refund'].includes(eventName);
  const properties: Obj = { superwall_event_id: svixId };
  for (const k of KEPT) if (d[k] !== undefined && d[k] !== null) properties[k] = d[k];
  const originalAppUserId = str(d.originalAppUserId);

  return {
    source: 'superwall',
    externalId: svixId,
    type,
    environment: environmentOf(d.environment),
    eventName,
    appreferId: str(attrs.appreferId) ?? str(attrs.apprefer_id),
    userIds: unique([str(d.appUserId), originalAppUserId, str(attrs.appUserId)]),
    idfa: null,
    gaid: null,
    userId: str(d.appUserId) ?? originalAppUserId,
    revenue: withRevenue ? price.revenue : null,
    currency: withRevenue ? price.currency : null,
    productId: str(d.productId),
    subscriptionKey: str(d.originalTransactionId) ?? str(d.transactionId),
    trialStart,
    endsTrial: refund
      ? 'refunded during the hold'
      : type === 'cancellation'
        ? `cancelled during the hold (${str(d.cancelReason, 64) ?? 'UNKNOWN'})`
        : type === 'expiration'
          ? `expired during the hold (${str(d.expirationReason, 64) ?? 'UNKNOWN'})`
          : null,
    transfer: null,
    occurredAt: msDate(d.ts) ?? msDate(body.timestamp) ?? receivedAt,
    purchasedAt: msDate(d.purchasedAt),
    properties: storableJson(properties) as Obj,
  };
}
