import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  RC_TRIAL_CANCELLED,
  RC_TRIAL_CONVERTED,
  RC_TRIAL_START,
  SVIX_VECTOR,
  SW_TRIAL_START,
} from './fixtures.ts';
import { fromRevenueCat } from './revenuecat.ts';
import { PayloadError } from './subscription-event.ts';
import { fromSuperwall, svixRefusal } from './superwall.ts';

const at = new Date('2026-12-01T10:00:00Z');
const rc = (patch: Record<string, unknown>, base = RC_TRIAL_CONVERTED) => {
  const body = JSON.parse(base);
  Object.assign(body.event, patch);
  return fromRevenueCat(body, at);
};

describe('RevenueCat payloads', () => {
  it('reads the §4.4 trial start as a start_trial of the appreferId device, without revenue', () => {
    const ev = fromRevenueCat(JSON.parse(RC_TRIAL_START), at);
    expect(ev).toMatchObject({
      source: 'revenuecat',
      externalId: '7E2B1C4A-9F0D-4E8B-A1C2-3D4E5F607182',
      eventName: 'start_trial',
      environment: 'live',
      appreferId: 'b3f1c2a4-5d6e-4f70-8a91-b2c3d4e5f607',
      trialStart: true,
      revenue: null,
      subscriptionKey: '2000000812345678',
      productId: 'fittrack_pro_annual',
      endsTrial: null,
    });
    expect(ev.purchasedAt?.getTime()).toBe(1763890927000);
    expect(ev.occurredAt.getTime()).toBe(1763890930500);
    expect(ev.userIds).toEqual(['$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0']);
  });

  it('counts the trial conversion in the purchase currency, not USD', () => {
    const ev = fromRevenueCat(JSON.parse(RC_TRIAL_CONVERTED), at);
    expect(ev).toMatchObject({ eventName: 'purchase', revenue: 54.99, currency: 'EUR' });
    expect(ev.userIds).toEqual(['user_8812', '$RCAnonymousID:4f1c2d3e4b5a69788796a5b4c3d2e1f0']);
    expect(ev.properties).toMatchObject({ is_trial_conversion: true, price: 59.99 });
  });

  it('falls back to the USD price when the purchase currency is missing', () => {
    expect(rc({ currency: null, price_in_purchased_currency: null })).toMatchObject({
      revenue: 59.99,
      currency: 'USD',
    });
  });

  it('a cancellation ends a held trial; a CUSTOMER_SUPPORT one is a negative refund', () => {
    const cancel = fromRevenueCat(JSON.parse(RC_TRIAL_CANCELLED), at);
    expect(cancel).toMatchObject({
      eventName: 'cancellation',
      revenue: null,
      endsTrial: 'cancelled during the hold (UNSUBSCRIBE)',
    });
    const refund = rc(
      {
        cancel_reason: 'CUSTOMER_SUPPORT',
        period_type: 'NORMAL',
        price: -9.99,
        price_in_purchased_currency: -9.99,
        currency: 'USD',
      },
      RC_TRIAL_CANCELLED,
    );
    expect(refund).toMatchObject({ eventName: 'refund', revenue: -9.99, currency: 'USD' });
    expect(refund.endsTrial).toBe('refunded during the hold');
  });

  it.each([
    ['RENEWAL', 'purchase'],
    ['NON_RENEWING_PURCHASE', 'purchase'],
    ['EXPIRATION', 'expiration'],
    ['UNCANCELLATION', 'uncancellation'],
    ['BILLING_ISSUE', 'billing_issue'],
    ['PRODUCT_CHANGE', 'product_change'],
    ['SUBSCRIPTION_PAUSED', 'subscription_paused'],
    ['SUBSCRIPTION_EXTENDED', 'subscription_extended'],
    ['TEMPORARY_ENTITLEMENT_GRANT', 'temporary_entitlement_grant'],
    ['REFUND_REVERSED', 'refund_reversed'],
    ['TRANSFER', 'subscription_transferred'],
    ['TEST', 'test'],
    ['INVOICE_ISSUANCE', 'ignored'],
    ['EXPERIMENT_ENROLLMENT', 'ignored'],
    ['PAYWALL_IMPRESSION_NEW_TYPE', 'ignored'],
  ])('%s → %s', (type, name) => {
    expect(rc({ type }).eventName).toBe(name);
  });

  it('a paid INITIAL_PURCHASE is a purchase, not a trial', () => {
    expect(rc({ type: 'INITIAL_PURCHASE', period_type: 'INTRO' })).toMatchObject({
      eventName: 'purchase',
      trialStart: false,
    });
  });

  it('TRANSFER carries both id lists and searches the old ids', () => {
    const ev = rc({
      type: 'TRANSFER',
      app_user_id: undefined,
      original_app_user_id: undefined,
      aliases: undefined,
      transferred_from: ['old_user'],
      transferred_to: ['new_user'],
    });
    expect(ev.transfer).toEqual({ from: ['old_user'], to: ['new_user'] });
    expect(ev.userIds).toEqual(['old_user']);
  });

  it('reads IDFA and GAID from the reserved attributes, ignoring an all-zero IDFA', () => {
    const attrs = (idfa: string) => ({
      subscriber_attributes: {
        $idfa: { value: idfa, updated_at_ms: 1 },
        $gpsAdId: { value: '38400000-8cf0-11bd-b23e-10b96e40000d', updated_at_ms: 1 },
      },
    });
    expect(rc(attrs('A1B2C3D4-0000-4000-8000-000000000001')).idfa).toBe(
      'A1B2C3D4-0000-4000-8000-000000000001',
    );
    expect(rc(attrs('00000000-0000-0000-0000-000000000000')).idfa).toBeNull();
    expect(rc(attrs('x')).gaid).toBe('38400000-8cf0-11bd-b23e-10b96e40000d');
  });

  it('SANDBOX is the sandbox environment', () => {
    expect(rc({ environment: 'SANDBOX' }).environment).toBe('sandbox');
  });

  it.each([
    [[], 'The body must be a JSON object'],
    [{}, 'event is required'],
    [{ event: { type: 'RENEWAL' } }, 'event.id is required'],
    [{ event: { id: 'x' } }, 'event.type is required'],
  ])('refuses %j naming the field', (body, message) => {
    expect(() => fromRevenueCat(body, at)).toThrow(PayloadError);
    expect(() => fromRevenueCat(body, at)).toThrow(message);
  });
});

describe('Svix signatures', () => {
  const { secret, id, timestamp, body, signature } = SVIX_VECTOR;
  const now = Number(timestamp) * 1000;
  const h = (sig: string, ts = timestamp) => ({ id, timestamp: ts, signature: sig });

  it('the published test vector verifies', () => {
    expect(svixRefusal(secret, h(signature), Buffer.from(body), now)).toBeNull();
  });

  it('accepts when any of several v1 entries matches (secret rotation)', () => {
    const sig = `v1,bm90IHRoZSByaWdodCBvbmU= ${signature}`;
    expect(svixRefusal(secret, h(sig), Buffer.from(body), now)).toBeNull();
  });

  it('refuses one changed byte, a wrong secret, and missing headers', () => {
    expect(svixRefusal(secret, h(signature), Buffer.from(`${body} `), now)).toMatch(/no svix/);
    expect(
      svixRefusal('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx', h(signature), Buffer.from(body), now),
    ).toMatch(/no svix/);
    expect(svixRefusal(secret, { id, timestamp, signature: null }, Buffer.from(body), now)).toMatch(
      /required/,
    );
  });

  it('refuses a timestamp more than 5 minutes off, in either direction', () => {
    const key = Buffer.from(secret.slice(6), 'base64');
    const signed = (ts: number) =>
      `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
    const t = Number(timestamp);
    for (const ts of [t - 301, t + 301])
      expect(svixRefusal(secret, h(signed(ts), String(ts)), Buffer.from(body), now)).toMatch(
        /5 minutes/,
      );
    expect(
      svixRefusal(secret, h(signed(t - 299), String(t - 299)), Buffer.from(body), now),
    ).toBeNull();
  });
});

describe('Superwall payloads', () => {
  it('reads the §5.2 trial start like RevenueCat’s, keyed by svix-id', () => {
    const ev = fromSuperwall(JSON.parse(SW_TRIAL_START), 'msg_1', at);
    expect(ev).toMatchObject({
      source: 'superwall',
      externalId: 'msg_1',
      eventName: 'start_trial',
      trialStart: true,
      appreferId: 'b3f1c2a4-5d6e-4f70-8a91-b2c3d4e5f607',
      subscriptionKey: '2000000812345678',
      userIds: ['$SuperwallAlias:7152E89E-60A6-4B2E-9C67-D7ED8F5BE372'],
    });
  });

  const sw = (data: Record<string, unknown>) => {
    const body = JSON.parse(SW_TRIAL_START);
    Object.assign(body.data, data);
    return fromSuperwall(body, 'msg_2', at);
  };

  it.each([
    ['renewal', 'purchase'],
    ['non_renewing_purchase', 'purchase'],
    ['cancellation', 'cancellation'],
    ['uncancellation', 'uncancellation'],
    ['expiration', 'expiration'],
    ['billing_issue', 'billing_issue'],
    ['product_change', 'product_change'],
    ['subscription_paused', 'subscription_paused'],
  ])('%s → %s', (name, eventName) => {
    expect(
      sw({ name, periodType: 'NORMAL', price: 9.99, priceInPurchasedCurrency: 9.99 }).eventName,
    ).toBe(eventName);
  });

  it('a negative price is a refund, whatever the name; apprefer_id works too', () => {
    const ev = sw({
      name: 'renewal',
      price: -9.99,
      priceInPurchasedCurrency: -8.99,
      currencyCode: 'EUR',
      userAttributes: { apprefer_id: 'dev-1' },
    });
    expect(ev).toMatchObject({
      eventName: 'refund',
      revenue: -8.99,
      currency: 'EUR',
      appreferId: 'dev-1',
    });
  });

  it('refuses a body without data', () => {
    expect(() => fromSuperwall({ object: 'event' }, 'msg_3', at)).toThrow('data is required');
  });
});
