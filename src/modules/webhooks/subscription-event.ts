/**
 * One subscription lifecycle event, whichever service sent it: RevenueCat (revenuecat.ts) and
 * Superwall (superwall.ts) payloads are read into this shape, and the recorder (recorder.ts) only
 * knows this shape. Plain data, no I/O: the mapping rules are testable without a server.
 */
import { MAX_ID_LENGTH, normaliseCurrency, optString } from '../tracking/sdk-body.ts';

export const WEBHOOK_SOURCES = ['revenuecat', 'superwall'] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];

/**
 * Platform event names of subscription lifecycle events (docs/webhooks.md has the table). Only
 * `purchase` and `start_trial` are ever forwarded to ad networks; the others are recorded.
 */
export type LifecycleEventName =
  | 'purchase'
  | 'start_trial'
  | 'refund'
  | 'refund_reversed'
  | 'cancellation'
  | 'uncancellation'
  | 'expiration'
  | 'billing_issue'
  | 'product_change'
  | 'subscription_paused'
  | 'subscription_extended'
  | 'subscription_transferred'
  | 'temporary_entitlement_grant';

export type SubscriptionEvent = {
  source: WebhookSource;
  /** The sender's id of this event: the dedup key (RevenueCat `event.id`, Superwall `svix-id`). */
  externalId: string;
  /** The sender's type, verbatim (`INITIAL_PURCHASE`, `renewal`, …). */
  type: string;
  environment: 'live' | 'sandbox';
  /** The event recorded for it, or why none is: `ignored` (stored raw only) or `test`. */
  eventName: LifecycleEventName | 'ignored' | 'test';
  /** How to find the device, in this order (docs/webhooks.md "Which device"). */
  appreferId: string | null;
  userIds: string[];
  idfa: string | null;
  gaid: string | null;
  /** The user id shown on the event (the sender's current app user id). */
  userId: string | null;
  /** Signed: negative for a refund. In `currency` (the purchase currency when the sender gives it). */
  revenue: number | null;
  currency: string | null;
  productId: string | null;
  /** Identifies the subscription across its events (the store's original transaction id). */
  subscriptionKey: string | null;
  /** A trial start (held for qualification when qualified trials are on). */
  trialStart: boolean;
  /** Set when this event ends a held trial of the same subscription: the reason recorded. */
  endsTrial: string | null;
  /** TRANSFER: purchases moved from these user ids to those. */
  transfer: { from: string[]; to: string[] } | null;
  /** When it happened (the sender's event time), else when it was received. */
  occurredAt: Date;
  /** When the purchase (the trial start) happened: the qualified-trial hold starts here. */
  purchasedAt: Date | null;
  /** Kept on the event: what a reader of the event log needs. */
  properties: Record<string, unknown>;
};

/** A payload that is not a usable event: answered 400 with `message`. */
export class PayloadError extends Error {}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

export const str = (v: unknown, max = MAX_ID_LENGTH) => optString(v, max);

export function strings(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => str(x)).filter((x): x is string => x !== null);
}

export const num = (v: unknown): number | null =>
  typeof v === 'number' && Number.isFinite(v) ? v : null;

/** Milliseconds since the epoch → a date, if plausible (years 2000–2999). */
export function msDate(v: unknown): Date | null {
  const n = num(v);
  if (n === null || n < 946_684_800_000 || n > 32_503_680_000_000) return null;
  return new Date(n);
}

/** The all-zero IDFA/GAID the OS reports without consent: no identifier at all. */
export function adId(v: unknown): string | null {
  const s = str(v, 64);
  if (!s || /^[0-]+$/.test(s)) return null;
  return s;
}

export function unique(ids: (string | null)[]): string[] {
  return [...new Set(ids.filter((x): x is string => !!x))];
}

/**
 * The amount of a purchase or refund: the purchase currency when the sender gives a valid one,
 * else the USD `price`. A zero amount (a free trial) is no revenue.
 */
export function amount(
  inPurchased: unknown,
  currency: unknown,
  usd: unknown,
): { revenue: number | null; currency: string | null } {
  const local = num(inPurchased);
  const code = normaliseCurrency(currency).code;
  if (local !== null && code) return local === 0 ? none : { revenue: local, currency: code };
  const price = num(usd);
  if (price !== null) return price === 0 ? none : { revenue: price, currency: 'USD' };
  return none;
}
const none = { revenue: null, currency: null };

export function environmentOf(v: unknown): 'live' | 'sandbox' {
  return typeof v === 'string' && v.toUpperCase() === 'SANDBOX' ? 'sandbox' : 'live';
}
