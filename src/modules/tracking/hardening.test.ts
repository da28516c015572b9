/**
 * Issue 10 regressions on the SDK endpoints: ReDoS in revenue parsing (1), poisoned revenue kept
 * out of reports (3), NUL in the body's app_id and in the Play referrer (6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { MAX_BODY_BYTES } from '../../http/types.ts';
import { insertClick, sdkPost, track, type SdkApp, createSdkApp } from './test-support.ts';
import { fold } from '../analytics/rollups.ts';

let t: TestServer;
let app: SdkApp;
beforeAll(async () => {
  t = await startTestServer();
  app = await createSdkApp(t, {
    currency: 'USD',
    timezone: 'UTC',
    legacyAppId: 'com.example.legacy',
  });
});
afterAll(() => t?.close());

let n = 0;
const dev = () => `hard-${++n}-${Math.random().toString(36).slice(2)}`;
const eventOf = async (deviceId: string, of: SdkApp = app) => {
  const r = await api(
    t,
    'GET',
    `/api/v1/apps/${of.appId}/events?deviceId=${encodeURIComponent(deviceId)}`,
    { auth: of.apiKey },
  );
  expect(r.status).toBe(200);
  return r.body.data.find((e: { source: string }) => e.source !== 'system');
};

describe('revenue parsing is linear (ReDoS)', () => {
  // The largest string that fits a 1 MiB body beside the other fields: all digits, then one
  // character that makes the old backtracking pattern fail (the worst case), and all digits.
  const size = MAX_BODY_BYTES - 200;
  const cases: [string, (v: string) => Record<string, unknown>][] = [
    ['revenue', (v) => ({ revenue: v })],
    ['properties.revenue', (v) => ({ properties: { revenue: v } })],
    ['params.revenue', (v) => ({ params: { revenue: v } })],
  ];
  for (const [where, body] of cases) {
    for (const tail of ['x', '']) {
      it(`a 1 MiB digit string${tail ? ' with a trailing letter' : ''} in ${where} is stored without revenue (200)`, async () => {
        const d = dev();
        const value = '1'.repeat(size - tail.length) + tail;
        const payload = JSON.stringify({
          device_id: d,
          event_name: 'purchase',
          currency: 'USD',
          ...body(value),
        });
        expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(MAX_BODY_BYTES);
        const r = await sdkPost(t, '/api/track/event', payload, {
          'content-type': 'application/json',
          'x-apprefer-key': app.live,
        });
        expect(r.status).toBe(200);
        const e = await eventOf(d);
        expect(e.revenue).toBeNull();
        expect(e.revenueRaw).toBe('1'.repeat(64));
      }, 20_000);
    }
  }

  it('ordinary numeric strings still parse', async () => {
    for (const [raw, amount] of [
      ['9.99', 9.99],
      ['+10', 10],
      ['.5', 0.5],
      ['5.', 5],
      ['1e3', 1000],
      [' 2.5E-1 ', 0.25],
      ['-3', -3],
    ] as const) {
      const d = dev();
      expect(
        (
          await track(t, 'event', app.live, {
            device_id: d,
            event_name: 'purchase',
            revenue: raw,
            currency: 'USD',
          })
        ).status,
      ).toBe(200);
      expect((await eventOf(d)).revenue).toEqual({ amount, currency: 'USD' });
    }
    for (const raw of ['1.2.3', 'e5', '1e', '--1', '0x10', '']) {
      const d = dev();
      expect(
        (
          await track(t, 'event', app.live, {
            device_id: d,
            event_name: 'purchase',
            revenue: raw,
            currency: 'USD',
          })
        ).status,
      ).toBe(200);
      expect((await eventOf(d)).revenue).toBeNull();
    }
  });
});

describe('implausible amounts never reach revenue (poisoned revenue)', () => {
  it('1e307 and −1e300 are stored flagged revenue_out_of_range, and the reports still answer without them', async () => {
    const own = await createSdkApp(t, { currency: 'USD', timezone: 'UTC' }); // its reports hold only these events
    const huge = dev();
    const negative = dev();
    const fine = dev();
    expect(
      (
        await track(t, 'event', own.live, {
          device_id: huge,
          event_name: 'purchase',
          revenue: 1e307,
          currency: 'USD',
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await track(t, 'event', own.live, {
          device_id: negative,
          event_name: 'purchase',
          revenue: -1e300,
          currency: 'USD',
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await track(t, 'event', own.live, {
          device_id: fine,
          event_name: 'purchase',
          revenue: 1e9,
          currency: 'USD',
        })
      ).status,
    ).toBe(200);

    const h = await eventOf(huge, own);
    expect(h).toMatchObject({ eventName: 'purchase', revenue: null, revenueRaw: '1e+307' });
    expect(h.flags).toEqual(
      expect.arrayContaining(['revenue_out_of_range', 'revenue_implausible']),
    );
    const neg = await eventOf(negative, own);
    expect(neg).toMatchObject({ revenue: null, revenueRaw: '-1e+300' });
    expect(neg.flags).toContain('revenue_out_of_range');
    // The bound itself is an amount (implausible: stored, counted, never forwarded).
    const f = await eventOf(fine, own);
    expect(f.revenue).toEqual({ amount: 1e9, currency: 'USD' });
    expect(f.flags).toEqual(['revenue_implausible']);

    for (let i = 0; i < 2; i++) {
      // before and after the fold
      const o = await api(t, 'GET', `/api/v1/apps/${own.appId}/overview`, { auth: own.apiKey });
      expect(o.status).toBe(200);
      expect(o.body.data.kpis.revenue).toEqual({ amount: 1e9, currency: 'USD' });
      expect(o.body.data.kpis.purchases).toBe(1);
      const s = await api(t, 'GET', `/api/v1/apps/${own.appId}/stats?groupBy=eventName`, {
        auth: own.apiKey,
      });
      expect(s.status).toBe(200);
      const p = await api(t, 'GET', '/api/v1/portfolio', { auth: own.apiKey });
      expect(p.status).toBe(200);
      expect(p.body.data.totals.revenue).toEqual({ amount: 1e9, currency: 'USD' });
      await fold(t.sql);
    }
  });
});

describe('NUL characters (U+0000)', () => {
  it('in the body app_id (the SDK 0.1.0 credential): 400 naming app_id, without any key', async () => {
    const r = await sdkPost(
      t,
      '/api/track/event',
      JSON.stringify({ app_id: 'com.example.legacy\u0000', device_id: dev(), event_name: 'x' }),
      { 'content-type': 'application/json' },
    );
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('validation_error');
    expect(r.json.error.message).toContain('app_id');
    // The legacy id itself still works.
    const ok = await sdkPost(
      t,
      '/api/track/event',
      JSON.stringify({ app_id: 'com.example.legacy', device_id: dev(), event_name: 'x' }),
      { 'content-type': 'application/json' },
    );
    expect(ok.status).toBe(200);
  });

  it('in the Play install referrer (%00 and \\u0000): the install is attributed, the NULs dropped', async () => {
    const clickId = await insertClick(t.sql, {
      appId: app.appId,
      platform: 'android',
      fbclid: 'fb1',
    });
    const d = dev();
    const r = await track(t, 'configure', app.live, {
      device_id: d,
      device_info: { platform: 'android' },
      install_referrer: `ar_click_id=${clickId}&utm_source=meta%00&utm_campaign=sum%00mer\u0000&x%00y=1`,
    });
    expect(r.status).toBe(200);
    expect(r.json.attribution).toMatchObject({ network: 'meta', match_type: 'click_id' });
    const [a] = await t.sql`select click_id, query_params from attributions where device_id = ${d}`;
    expect(a.click_id).toBe(clickId);
    expect(JSON.stringify(a.query_params)).not.toContain('\\u0000');
  });

  it('a referrer without a platform click id: its UTM values are stored without the NULs', async () => {
    const d = dev();
    const r = await track(t, 'configure', app.live, {
      device_id: d,
      device_info: { platform: 'android' },
      install_referrer: 'utm_source=google%00&utm_campaign=q%002&gclid=abc%00',
    });
    expect(r.status).toBe(200);
    expect(r.json.attribution).toMatchObject({ network: 'google', match_type: 'referrer' });
  });
});
