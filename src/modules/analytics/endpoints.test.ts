/**
 * KPIs of data written only through the public endpoints: links created with the Links API,
 * clicks on /api/c/{linkId} (batched by the click writer: we wait until they are visible),
 * installs with /api/track/configure and events with /api/track/event (live and test SDK keys).
 * Everything happens "now", so the period is yesterday..today in the app's zone (+05:45).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type TestServer,
} from '../../../test/helpers.ts';
import { randomBase62 } from '../../lib/crypto.ts';
import { addDays, todayIn } from './period.ts';
import { payerDaysVersusRaw, rollupVersusRaw } from './test-support.ts';

const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1';
const ANDROID =
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36';
const BOT = 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)';
const TZ = 'Asia/Kathmandu';

let t: TestServer;
let key: string;
let appId: string;
let sdk: { live: string; test: string };
let period: string;

async function click(linkId: string, ip: string, ua: string, extra = ''): Promise<string> {
  const m = randomBase62(12);
  const r = await fetch(`${t.url}/api/c/${linkId}?m=${m}${extra}`, {
    headers: { 'user-agent': ua, 'x-forwarded-for': ip },
    redirect: 'manual',
  });
  expect([200, 302]).toContain(r.status);
  await r.arrayBuffer();
  return m;
}

/** The click ids of these markers, once the batched writer has stored them all. */
async function clickIds(markers: string[]): Promise<Map<string, string>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await t.sql<
      { m: string; id: string }[]
    >`select query_params->>'m' as m, id from clicks where query_params->>'m' = any(${markers})`;
    if (rows.length === markers.length) return new Map(rows.map((r) => [r.m, r.id]));
    if (Date.now() > deadline)
      throw new Error(`only ${rows.length} of ${markers.length} clicks stored`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function track(kind: 'configure' | 'event', sdkKey: string, body: Record<string, unknown>) {
  const r = await fetch(`${t.url}/api/track/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-apprefer-key': sdkKey },
    body: JSON.stringify(body),
  });
  expect(r.status).toBe(200);
  return r.json();
}

beforeAll(async () => {
  t = await startTestServer();
  const org = await createOrg(t);
  key = await org.key('full');
  const app = (
    await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: appBody({
        timezone: TZ,
        currency: 'USD',
        attributionSettings: { probabilisticEnabled: false },
      }),
    })
  ).body.data;
  appId = app.id;
  sdk = app.sdkKeys;
  const link = async (body: Record<string, unknown>) => {
    const r = await api(t, 'POST', `/api/v1/apps/${appId}/links`, { auth: key, body });
    expect(r.status).toBe(201);
    return r.body.data.id as string;
  };
  const meta = await link({
    id: `meta-${randomBase62(8).toLowerCase()}`,
    name: 'Meta summer',
    network: 'meta',
    campaignName: 'summer',
  });
  const google = await link({
    id: `google-${randomBase62(8).toLowerCase()}`,
    name: 'Google brand',
    network: 'google',
    campaignName: 'brand',
  });

  const m1 = await click(meta, '203.0.113.1', IPHONE);
  const repeat = await click(meta, '203.0.113.1', IPHONE); // a rapid repeat of m1: not a new click
  const m2 = await click(meta, '203.0.113.2', IPHONE);
  const m3 = await click(meta, '203.0.113.3', IPHONE);
  const bot = await click(meta, '203.0.113.4', BOT);
  const g1 = await click(google, '203.0.113.5', ANDROID);
  const g2 = await click(google, '203.0.113.6', ANDROID);
  const sandbox = await click(meta, '203.0.113.7', IPHONE, '&ar_env=sandbox');
  const ids = await clickIds([m1, repeat, m2, m3, bot, g1, g2, sandbox]);

  await track('configure', sdk.live, {
    device_id: 'dev-a',
    ar_click_id: ids.get(m1),
    device_info: { platform: 'ios' },
  });
  await track('configure', sdk.live, {
    device_id: 'dev-b',
    ar_click_id: ids.get(g1),
    device_info: { platform: 'android' },
  });
  await track('configure', sdk.live, { device_id: 'dev-c', device_info: { platform: 'ios' } });
  await track('configure', sdk.test, {
    device_id: 'dev-d',
    ar_click_id: ids.get(sandbox),
    device_info: { platform: 'ios' },
  });

  await track('event', sdk.live, { device_id: 'dev-a', event_name: 'start_trial' });
  await track('event', sdk.live, {
    device_id: 'dev-a',
    event_name: 'purchase',
    revenue: 9.99,
    currency: 'USD',
  });
  await track('event', sdk.live, {
    device_id: 'dev-a',
    event_name: 'refund',
    revenue: 4,
    currency: 'USD',
  });
  await track('event', sdk.live, {
    device_id: 'dev-b',
    event_name: 'subscribe',
    revenue: '19.99',
    currency: 'USD',
  });
  await track('event', sdk.live, {
    device_id: 'dev-c',
    event_name: 'purchase',
    revenue: 5,
    currency: 'EUR',
  });
  await track('event', sdk.live, {
    device_id: 'dev-c',
    event_name: '_set_user_id',
    properties: { user_id: 'u-c' },
  });
  await track('event', sdk.test, {
    device_id: 'dev-d',
    event_name: 'purchase',
    revenue: 50,
    currency: 'USD',
  });

  const today = todayIn(TZ);
  period = `from=${addDays(today, -1)}&to=${today}`;
});
afterAll(() => t?.close());

const get = (path: string) => api(t, 'GET', path, { auth: key });

describe('KPIs of data written through the public endpoints', () => {
  it('overview counts clicks, installs, trials, purchases and net revenue exactly', async () => {
    const r = await get(`/api/v1/apps/${appId}/overview?${period}`);
    expect(r.status).toBe(200);
    expect(r.body.data.kpis).toEqual({
      clicks: 5,
      installs: 3,
      attributedInstalls: 2,
      organicInstalls: 1,
      pendingInstalls: 0,
      clickToInstallRate: 0.4,
      events: 8,
      trials: 1,
      qualifiedTrials: 0,
      purchases: 3,
      revenue: { amount: 25.98, currency: 'USD' }, // 9.99 − 4 refund + 19.99
      revenueByCurrency: [
        { amount: 5, currency: 'EUR' },
        { amount: 25.98, currency: 'USD' },
      ],
      unconvertedCurrencies: ['EUR'],
      payingUsers: 3,
      arpu: { amount: 8.66, currency: 'USD' },
    });
    const days = r.body.data.timeseries;
    expect(days.map((d: any) => d.date)).toEqual(period.replace('from=', '').split('&to='));
    expect(days.reduce((s: number, d: any) => s + d.installs, 0)).toBe(3);
  });

  it('credits events to the install attribution of their device', async () => {
    const meta = (await get(`/api/v1/apps/${appId}/overview?${period}&network=meta`)).body.data
      .kpis;
    expect([
      meta.clicks,
      meta.installs,
      meta.clickToInstallRate,
      meta.trials,
      meta.purchases,
      meta.revenue.amount,
    ]).toEqual([3, 1, 0.3333, 1, 1, 5.99]);
    const rows = (
      await get(
        `/api/v1/apps/${appId}/stats?${period}&groupBy=network,campaign&metrics=clicks,installs,revenue`,
      )
    ).body.data;
    expect(
      rows.map((x: any) => [
        x.dimensions.network,
        x.dimensions.campaign,
        x.metrics.clicks,
        x.metrics.installs,
        x.metrics.revenue.amount,
      ]),
    ).toEqual([
      ['google', 'brand', 2, 1, 19.99],
      ['meta', 'summer', 3, 1, 5.99],
      ['organic', null, 0, 1, 0],
    ]);
  });

  it('keeps the sandbox (test key, ar_env=sandbox click) apart', async () => {
    const s = (await get(`/api/v1/apps/${appId}/overview?${period}&environment=sandbox`)).body.data
      .kpis;
    expect([s.clicks, s.installs, s.attributedInstalls, s.purchases, s.revenue.amount]).toEqual([
      1, 1, 1, 1, 50,
    ]);
  });

  it('lists the events and attributions written', async () => {
    const ev = (await get(`/api/v1/apps/${appId}/events?deviceId=dev-a`)).body.data;
    expect(ev.map((e: any) => e.eventName)).toEqual([
      'refund',
      'purchase',
      'start_trial',
      'install',
    ]);
    expect(ev[0]).toMatchObject({
      revenue: { amount: 4, currency: 'USD' },
      attribution: { network: 'meta', campaign: 'summer', matchType: 'click_id' },
    });
    const att = (await get(`/api/v1/apps/${appId}/attributions?${period}`)).body.data;
    expect(att.map((a: any) => a.deviceId).sort()).toEqual(['dev-a', 'dev-b', 'dev-c']);
  });

  it('stays equal to a recount of the raw rows under concurrent configures and events', async () => {
    const devices = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
    await Promise.all(
      devices.flatMap((d, i) => [
        // events may arrive before the configure of their device (stub device) or after
        ...Array.from({ length: 4 }, (_, k) =>
          track('event', sdk.live, {
            device_id: d,
            event_name: k % 2 ? 'purchase' : 'view_content',
            ...(k % 2 ? { revenue: 1 + (i % 3), currency: 'USD' } : {}),
          }),
        ),
        track('configure', sdk.live, {
          device_id: d,
          device_info: { platform: i % 2 ? 'ios' : 'android' },
        }),
      ]),
    );
    const { rollup, raw } = await rollupVersusRaw(t.sql, appId);
    expect(rollup).toEqual(raw);
    const payers = await payerDaysVersusRaw(t.sql, appId);
    expect(payers.stored).toEqual(payers.raw);
    expect(payers.counts).toEqual(payers.countsFromDays);
  });
});
