/**
 * KPIs against hand-computed numbers on a small dataset written at chosen instants (the public
 * endpoints can only write "now"; see endpoints.test.ts for the same checks on data written
 * through them). App A lives in America/New_York, which moved to daylight time on 2026-03-08:
 *   2026-03-07 = [03-07T05:00Z, 03-08T05:00Z)  (EST, 24 h)
 *   2026-03-08 = [03-08T05:00Z, 03-09T04:00Z)  (23 h)
 *   2026-03-09 = [03-09T04:00Z, 03-10T04:00Z)  (EDT)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type Org,
  type TestServer,
} from '../../../test/helpers.ts';
import { fold } from './rollups.ts';
import { sqlClick, sqlEvent, sqlInstall } from './test-support.ts';

let t: TestServer;
let org: Org;
let key: string;
let appA: string;
let appB: string;
const P = 'from=2026-03-08&to=2026-03-09';

beforeAll(async () => {
  t = await startTestServer({ API_RATE_LIMIT_PER_MINUTE: '100000' });
  org = await createOrg(t);
  key = await org.key('full');
  appA = (
    await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: appBody({ name: 'A', timezone: 'America/New_York', currency: 'USD' }),
    })
  ).body.data.id;
  appB = (
    await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: appBody({ name: 'B', timezone: 'Asia/Tokyo', currency: 'JPY' }),
    })
  ).body.data.id;
  const s = t.sql;
  const a = appA;
  // Clicks around both day boundaries of the 23-hour day.
  const c1 = await sqlClick(s, { appId: a, at: '2026-03-08T04:59:00Z', campaign: 'spring' }); // 03-07 23:59 EST
  await sqlClick(s, { appId: a, at: '2026-03-08T05:00:00Z', campaign: 'spring' }); // 03-08 00:00 EST
  await sqlClick(s, { appId: a, at: '2026-03-09T03:59:00Z', campaign: 'spring' }); // 03-08 23:59 EDT
  await sqlClick(s, { appId: a, at: '2026-03-09T04:00:00Z', campaign: 'spring' }); // 03-09 00:00 EDT
  await sqlClick(s, { appId: a, at: '2026-03-08T04:59:02Z', campaign: 'spring', duplicateOf: c1 }); // rapid repeat: not a click
  await sqlClick(s, { appId: a, at: '2026-03-08T10:00:00Z', isBot: true }); // bot: not a click
  await sqlClick(s, {
    appId: a,
    at: '2026-03-08T10:00:00Z',
    network: 'google',
    campaign: 'brand',
    platform: 'android',
    country: 'DE',
    linkId: 'link-g',
  });
  await sqlClick(s, { appId: a, at: '2026-03-08T10:00:00Z', environment: 'sandbox' });

  const d1 = await sqlInstall(s, {
    appId: a,
    deviceId: 'd1',
    network: 'meta',
    campaign: 'spring',
    linkId: 'link-a',
    at: '2026-03-08T12:00:00Z',
  });
  const d2 = await sqlInstall(s, {
    appId: a,
    deviceId: 'd2',
    network: 'organic',
    platform: 'android',
    country: 'DE',
    at: '2026-03-09T03:30:00Z',
  });
  await sqlInstall(s, {
    appId: a,
    deviceId: 'd3',
    network: 'google',
    campaign: 'brand',
    platform: 'android',
    country: 'DE',
    linkId: 'link-g',
    at: '2026-03-09T05:00:00Z',
  });
  await sqlInstall(s, {
    appId: a,
    deviceId: 'd4',
    network: 'meta',
    environment: 'sandbox',
    at: '2026-03-08T12:00:00Z',
  });
  void d1;
  void d2;

  await sqlEvent(s, { appId: a, deviceId: 'd1', name: 'start_trial', at: '2026-03-08T13:00:00Z' });
  await sqlEvent(s, { appId: a, deviceId: 'd1', name: '_set_user_id', at: '2026-03-08T13:00:01Z' }); // control: never counted
  await sqlEvent(s, {
    appId: a,
    deviceId: 'd1',
    name: 'purchase',
    revenue: 9.99,
    at: '2026-03-09T15:00:00Z',
  });
  await sqlEvent(s, {
    appId: a,
    deviceId: 'd1',
    name: 'refund',
    revenue: 5,
    at: '2026-03-09T20:00:00Z',
  }); // partial refund
  await sqlEvent(s, {
    appId: a,
    deviceId: 'd2',
    name: 'purchase',
    revenue: 4.99,
    source: 'revenuecat',
    at: '2026-03-09T03:45:00Z',
  }); // 03-08 local
  await sqlEvent(s, {
    appId: a,
    deviceId: 'd2',
    name: 'qualified_trial',
    at: '2026-03-09T10:00:00Z',
  }); // client-sent: custom event
  await sqlEvent(s, {
    appId: a,
    deviceId: 'd3',
    name: 'qualified_trial',
    source: 'system',
    at: '2026-03-09T10:00:00Z',
  });
  await sqlEvent(s, {
    appId: a,
    deviceId: 'd3',
    name: 'subscribe',
    revenue: 19.99,
    currency: 'EUR',
    source: 'revenuecat',
    at: '2026-03-09T11:00:00Z',
  });
  await sqlEvent(s, {
    appId: a,
    deviceId: 'd4',
    name: 'purchase',
    revenue: 100,
    environment: 'sandbox',
    at: '2026-03-08T13:00:00Z',
  });
  // A late event: written last, dated in the previous period (03-07 local).
  await sqlEvent(s, {
    appId: a,
    deviceId: 'd1',
    name: 'purchase',
    revenue: 2,
    at: '2026-03-07T20:00:00Z',
  });

  // App B (Tokyo, JPY): 2026-03-08 local = [03-07T15:00Z, 03-08T15:00Z).
  await sqlClick(s, { appId: appB, at: '2026-03-07T15:00:00Z', network: 'tiktok' });
  await sqlInstall(s, {
    appId: appB,
    deviceId: 'b1',
    network: 'tiktok',
    matchType: 'click_id',
    at: '2026-03-07T16:00:00Z',
  });
  await sqlInstall(s, { appId: appB, deviceId: 'b2', at: '2026-03-07T14:59:00Z' }); // 03-07 23:59 JST: outside
  await sqlEvent(s, {
    appId: appB,
    deviceId: 'b1',
    name: 'purchase',
    revenue: 1200,
    currency: 'JPY',
    at: '2026-03-08T01:00:00Z',
  });
});
afterAll(() => t?.close());

const get = (path: string, auth: string | Org['session'] = key) => api(t, 'GET', path, { auth });

const ZERO = {
  clicks: 0,
  installs: 0,
  attributedInstalls: 0,
  organicInstalls: 0,
  pendingInstalls: 0,
  clickToInstallRate: null,
  events: 0,
  trials: 0,
  qualifiedTrials: 0,
  purchases: 0,
  revenue: { amount: 0, currency: 'USD' },
  revenueByCurrency: [],
  unconvertedCurrencies: [],
  payingUsers: 0,
  arpu: null,
};

describe('overview', () => {
  it('computes every KPI of the period, the previous period and each local day (DST day included)', async () => {
    const r = await get(`/api/v1/apps/${appA}/overview?${P}`);
    expect(r.status).toBe(200);
    const d = r.body.data;
    expect(d.period).toEqual({
      from: '2026-03-08',
      to: '2026-03-09',
      timezone: 'America/New_York',
    });
    expect(d.kpis).toEqual({
      clicks: 4,
      installs: 3,
      attributedInstalls: 2,
      organicInstalls: 1,
      pendingInstalls: 0,
      clickToInstallRate: 0.5,
      events: 10,
      trials: 1,
      qualifiedTrials: 1,
      purchases: 3,
      revenue: { amount: 9.98, currency: 'USD' }, // 9.99 + 4.99 − 5 refund; EUR is not converted
      revenueByCurrency: [
        { amount: 19.99, currency: 'EUR' },
        { amount: 9.98, currency: 'USD' },
      ],
      unconvertedCurrencies: ['EUR'],
      payingUsers: 3,
      arpu: { amount: 3.33, currency: 'USD' },
    });
    // Previous period 03-06..03-07: the 23:59 EST click and the late purchase.
    expect(d.previousPeriod).toEqual({
      ...ZERO,
      clicks: 1,
      clickToInstallRate: 0,
      events: 1,
      purchases: 1,
      revenue: { amount: 2, currency: 'USD' },
      revenueByCurrency: [{ amount: 2, currency: 'USD' }],
      payingUsers: 1,
    });
    expect(
      d.timeseries.map((x: any) => [
        x.date,
        x.clicks,
        x.installs,
        x.attributedInstalls,
        x.trials,
        x.qualifiedTrials,
        x.purchases,
        x.revenue.amount,
        x.events,
        x.payingUsers,
      ]),
    ).toEqual([
      ['2026-03-08', 3, 2, 1, 1, 0, 1, 4.99, 4, 1],
      ['2026-03-09', 1, 1, 1, 0, 1, 2, 4.99, 6, 2],
    ]);
  });

  it('counts a device paying on several days of the period once', async () => {
    const d = (await get(`/api/v1/apps/${appA}/overview?from=2026-03-07&to=2026-03-09`)).body.data;
    expect(d.timeseries.map((x: any) => x.payingUsers)).toEqual([1, 1, 2]); // d1 | d2 | d1, d3
    expect(d.kpis.payingUsers).toBe(3);
    const byNetwork = (
      await get(
        `/api/v1/apps/${appA}/stats?from=2026-03-07&to=2026-03-09&groupBy=network&metrics=payingUsers`,
      )
    ).body.data;
    expect(
      Object.fromEntries(byNetwork.map((x: any) => [x.dimensions.network, x.metrics.payingUsers])),
    ).toEqual({ google: 1, meta: 1, organic: 1 });
    const byName = (
      await get(
        `/api/v1/apps/${appA}/stats?from=2026-03-07&to=2026-03-09&groupBy=eventName&metrics=payingUsers`,
      )
    ).body.data;
    expect(
      Object.fromEntries(
        byName
          .filter((x: any) => x.metrics.payingUsers)
          .map((x: any) => [x.dimensions.eventName, x.metrics.payingUsers]),
      ),
    ).toEqual({ purchase: 2, subscribe: 1 });
  });

  it('gives the same answer after the pending deltas are folded into the rollups', async () => {
    const before = await get(`/api/v1/apps/${appA}/overview?${P}`);
    await fold(t.sql);
    const after = await get(`/api/v1/apps/${appA}/overview?${P}`);
    expect(after.body).toEqual(before.body);
  });

  it('applies filters, repeated values as OR, combined filters as AND', async () => {
    const meta = (await get(`/api/v1/apps/${appA}/overview?${P}&network=meta`)).body.data.kpis;
    expect([
      meta.clicks,
      meta.installs,
      meta.attributedInstalls,
      meta.clickToInstallRate,
      meta.trials,
      meta.purchases,
      meta.revenue.amount,
      meta.payingUsers,
    ]).toEqual([3, 1, 1, 0.3333, 1, 1, 4.99, 1]);
    const both = (await get(`/api/v1/apps/${appA}/overview?${P}&network=meta&network=google`)).body
      .data.kpis;
    expect([both.clicks, both.installs, both.purchases]).toEqual([4, 2, 2]);
    const combined = (
      await get(
        `/api/v1/apps/${appA}/overview?${P}&network=google&platform=android&country=DE&linkId=link-g`,
      )
    ).body.data.kpis;
    expect([
      combined.clicks,
      combined.installs,
      combined.clickToInstallRate,
      combined.purchases,
      combined.payingUsers,
    ]).toEqual([1, 1, 1, 1, 1]);
    expect(combined.revenue).toEqual({ amount: 0, currency: 'USD' });
    expect(combined.revenueByCurrency).toEqual([{ amount: 19.99, currency: 'EUR' }]);
    const none = (await get(`/api/v1/apps/${appA}/overview?${P}&network=meta&country=DE`)).body.data
      .kpis;
    expect([none.clicks, none.installs, none.purchases]).toEqual([0, 0, 0]);
  });

  it('keeps sandbox data apart', async () => {
    const s = (await get(`/api/v1/apps/${appA}/overview?${P}&environment=sandbox`)).body.data.kpis;
    expect([s.clicks, s.installs, s.purchases, s.revenue.amount, s.payingUsers]).toEqual([
      1, 1, 1, 100, 1,
    ]);
  });

  it('moves an install and its events when the attribution changes later', async () => {
    const c = await get(
      `/api/v1/apps/${appB}/overview?from=2026-03-08&to=2026-03-08&network=apple_search_ads`,
    );
    expect(c.body.data.kpis.installs).toBe(0);
    await t.sql`update attributions set network = 'apple_search_ads', match_type = 'adservices' where app_id = ${appB} and device_id = 'b1'`;
    const asa = (
      await get(
        `/api/v1/apps/${appB}/overview?from=2026-03-08&to=2026-03-08&network=apple_search_ads`,
      )
    ).body.data.kpis;
    expect([
      asa.installs,
      asa.attributedInstalls,
      asa.purchases,
      asa.revenue,
      asa.payingUsers,
    ]).toEqual([1, 1, 1, { amount: 1200, currency: 'JPY' }, 1]);
    const tiktok = (
      await get(`/api/v1/apps/${appB}/overview?from=2026-03-08&to=2026-03-08&network=tiktok`)
    ).body.data.kpis;
    expect([tiktok.clicks, tiktok.installs, tiktok.purchases, tiktok.payingUsers]).toEqual([
      1, 0, 0, 0,
    ]);
    await t.sql`update attributions set network = 'tiktok', match_type = 'click_id' where app_id = ${appB} and device_id = 'b1'`;
  });

  it('re-dates the history when the app changes time zone', async () => {
    const c = (
      await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody({ timezone: 'UTC' }) })
    ).body.data.id;
    await sqlInstall(t.sql, { appId: c, deviceId: 'z1', at: '2026-03-08T23:30:00Z' });
    await sqlEvent(t.sql, {
      appId: c,
      deviceId: 'z1',
      name: 'purchase',
      revenue: 3,
      at: '2026-03-08T23:45:00Z',
    });
    await fold(t.sql);
    const days = async () =>
      (
        await get(`/api/v1/apps/${c}/overview?from=2026-03-08&to=2026-03-09`)
      ).body.data.timeseries.map((d: any) => [d.date, d.installs, d.purchases, d.payingUsers]);
    expect(await days()).toEqual([
      ['2026-03-08', 1, 1, 1],
      ['2026-03-09', 0, 0, 0],
    ]);
    expect(
      (await api(t, 'PATCH', `/api/v1/apps/${c}`, { auth: key, body: { timezone: 'Asia/Tokyo' } }))
        .status,
    ).toBe(200);
    expect(await days()).toEqual([
      ['2026-03-08', 0, 0, 0],
      ['2026-03-09', 1, 1, 1],
    ]);
  });

  it('rejects bad periods and unknown parameters with the field named', async () => {
    const bad = await get(`/api/v1/apps/${appA}/overview?from=2026-03-09&to=2026-03-08`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('from');
    expect(
      (await get(`/api/v1/apps/${appA}/overview?from=2025-01-01&to=2026-03-08`)).body.error
        .details[0].path,
    ).toBe('to');
    expect(
      (await get(`/api/v1/apps/${appA}/overview?from=2026-02-30`)).body.error.details[0].path,
    ).toBe('from');
    const unknown = await get(`/api/v1/apps/${appA}/overview?netwrok=meta`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details[0].path).toBe('netwrok');
    expect((await get(`/api/v1/apps/${appA}/overview?platform=windows`)).status).toBe(400);
  });
});

describe('stats', () => {
  it('groups by date × network, ordered by date then installs descending, paginated', async () => {
    const rows: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await get(
        `/api/v1/apps/${appA}/stats?${P}&groupBy=date,network&metrics=clicks,installs,purchases&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(r.status).toBe(200);
      rows.push(...r.body.data);
      cursor = r.body.meta.cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(
      rows.map((x) => [
        x.dimensions.date,
        x.dimensions.network,
        x.metrics.clicks,
        x.metrics.installs,
        x.metrics.purchases,
      ]),
    ).toEqual([
      ['2026-03-08', 'meta', 2, 1, 0],
      ['2026-03-08', 'organic', 0, 1, 1],
      ['2026-03-08', 'google', 1, 0, 0],
      ['2026-03-09', 'google', 0, 1, 1],
      ['2026-03-09', 'meta', 1, 0, 1],
      ['2026-03-09', 'organic', 0, 0, 0],
    ]);
    expect(Object.keys(rows[0].metrics).sort()).toEqual(['clicks', 'installs', 'purchases']);
  });

  it('groups by fine dimensions (country, linkId, matchType, eventName) from the detailed rollup', async () => {
    const r = await get(`/api/v1/apps/${appA}/stats?${P}&groupBy=country&groupBy=matchType`);
    expect(
      r.body.data.map((x: any) => [
        x.dimensions.country,
        x.dimensions.matchType,
        x.metrics.clicks,
        x.metrics.installs,
        x.metrics.payingUsers,
      ]),
    ).toEqual([
      ['DE', 'click_id', 0, 1, 1],
      ['DE', 'organic', 0, 1, 1],
      ['DE', null, 1, 0, 0],
      ['US', 'click_id', 0, 1, 1],
      ['US', null, 3, 0, 0],
    ]);
    const ev = await get(
      `/api/v1/apps/${appA}/stats?${P}&groupBy=eventName&metrics=events,revenue`,
    );
    const byName = Object.fromEntries(
      ev.body.data.map((x: any) => [x.dimensions.eventName, x.metrics.events]),
    );
    expect(byName).toEqual({
      install: 3,
      start_trial: 1,
      purchase: 2,
      refund: 1,
      qualified_trial: 2,
      subscribe: 1,
      null: 0,
    });
  });

  it('rejects an unknown dimension or metric and a cursor of another question', async () => {
    const r = await get(`/api/v1/apps/${appA}/stats?groupBy=date,week`);
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].path).toMatch(/^groupBy/);
    expect((await get(`/api/v1/apps/${appA}/stats?metrics=ltv`)).status).toBe(400);
    const first = await get(`/api/v1/apps/${appA}/stats?${P}&groupBy=date,network&limit=1`);
    const other = await get(
      `/api/v1/apps/${appA}/stats?${P}&groupBy=network&limit=1&cursor=${first.body.meta.cursor}`,
    );
    expect(other.status).toBe(400);
    expect(other.body.error.details[0].path).toBe('cursor');
  });
});

describe('events and attributions', () => {
  it('lists events newest first with keyset pages, filters and the attribution snapshot', async () => {
    const all: any[] = [];
    let cursor: string | null = null;
    do {
      const r = await get(
        `/api/v1/apps/${appA}/events?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      all.push(...r.body.data);
      cursor = r.body.meta.cursor;
    } while (cursor);
    expect(all).toHaveLength(12); // the 10 counted events (installs included), the late one and the control event
    const times = all.map((e) => e.receivedAt);
    expect([...times].sort().reverse()).toEqual(times);
    expect(new Set(all.map((e) => e.id)).size).toBe(12);
    const refund = all.find((e) => e.eventName === 'refund');
    expect(refund).toMatchObject({
      deviceId: 'd1',
      revenue: { amount: 5, currency: 'USD' },
      attribution: { network: 'meta', campaign: 'spring', matchType: 'click_id' },
      environment: 'live',
    });

    const purchases = await get(`/api/v1/apps/${appA}/events?eventName=purchase&deviceId=d1`);
    expect(purchases.body.data.map((e: any) => e.revenue.amount)).toEqual([9.99, 2]);
    const system = await get(
      `/api/v1/apps/${appA}/events?source=system&from=2026-03-09&to=2026-03-09`,
    );
    expect(system.body.data.map((e: any) => [e.eventName, e.deviceId])).toEqual([
      ['qualified_trial', 'd3'],
      ['install', 'd3'],
    ]);
    const sandbox = await get(`/api/v1/apps/${appA}/events?environment=sandbox`);
    expect(sandbox.body.data.map((e: any) => e.deviceId)).toEqual(['d4', 'd4']);
    expect((await get(`/api/v1/apps/${appA}/events?cursor=abc.def`)).status).toBe(400);
  });

  it('lists attributions of the period newest first, filtered', async () => {
    const r = await get(`/api/v1/apps/${appA}/attributions?${P}&limit=2`);
    expect(r.body.data.map((x: any) => x.deviceId)).toEqual(['d3', 'd2']);
    const next = await get(
      `/api/v1/apps/${appA}/attributions?${P}&limit=2&cursor=${r.body.meta.cursor}`,
    );
    expect(next.body.data.map((x: any) => x.deviceId)).toEqual(['d1']);
    expect(next.body.meta).toEqual({ hasMore: false, cursor: null });
    expect(next.body.data[0]).toMatchObject({
      network: 'meta',
      matchType: 'click_id',
      campaign: 'spring',
      linkId: 'link-a',
      installedAt: '2026-03-08T12:00:00.000Z',
      platform: 'ios',
      environment: 'live',
    });
    const google = await get(`/api/v1/apps/${appA}/attributions?${P}&network=google&country=DE`);
    expect(google.body.data.map((x: any) => x.deviceId)).toEqual(['d3']);
  });
});

describe('portfolio', () => {
  it('reports each app in its own zone and currency; totals add up and never mix currencies', async () => {
    const r = await get(`/api/v1/portfolio?from=2026-03-08&to=2026-03-08`);
    expect(r.status).toBe(200);
    const d = r.body.data;
    const [a, b] = [
      d.apps.find((x: any) => x.appId === appA),
      d.apps.find((x: any) => x.appId === appB),
    ];
    expect(a.kpis.installs).toBe(2);
    expect(b.kpis.installs).toBe(1); // b2 was installed 23:59 JST the day before
    expect(b.kpis.revenue).toEqual({ amount: 1200, currency: 'JPY' });
    expect(d.totals.installs).toBe(a.kpis.installs + b.kpis.installs);
    expect(d.totals.clicks).toBe(a.kpis.clicks + b.kpis.clicks);
    expect(d.totals.payingUsers).toBe(a.kpis.payingUsers + b.kpis.payingUsers);
    expect(d.totals.revenue).toEqual({ amount: 4.99, currency: 'USD' });
    expect(d.totals.revenueByCurrency).toEqual([
      { amount: 1200, currency: 'JPY' },
      { amount: 4.99, currency: 'USD' },
    ]);
    expect(d.totals.unconvertedCurrencies).toEqual(['JPY']);
    expect(a.share).toEqual({ installs: 0.6667, revenue: 1 });
    expect(b.share).toEqual({ installs: 0.3333, revenue: null });
  });

  it('converts to one currency when FX_RATES are configured', async () => {
    const fx = await startTestServer({ FX_RATES: JSON.stringify({ EUR: 1.1, JPY: 0.0067 }) });
    try {
      const o = await createOrg(fx);
      const k = await o.key('analytics');
      const full = await o.key('full');
      const id = (
        await api(fx, 'POST', '/api/v1/apps', {
          auth: full,
          body: appBody({ timezone: 'UTC', currency: 'EUR' }),
        })
      ).body.data.id;
      const jp = (
        await api(fx, 'POST', '/api/v1/apps', {
          auth: full,
          body: appBody({ timezone: 'Asia/Tokyo', currency: 'JPY' }),
        })
      ).body.data.id;
      await sqlInstall(fx.sql, { appId: id, deviceId: 'e1', at: '2026-03-08T12:00:00Z' });
      await sqlEvent(fx.sql, {
        appId: id,
        deviceId: 'e1',
        name: 'purchase',
        revenue: 10,
        currency: 'EUR',
        at: '2026-03-08T12:00:00Z',
      });
      await sqlEvent(fx.sql, {
        appId: id,
        deviceId: 'e1',
        name: 'purchase',
        revenue: 11,
        currency: 'USD',
        at: '2026-03-08T12:00:00Z',
      });
      await sqlInstall(fx.sql, { appId: jp, deviceId: 'j1', at: '2026-03-08T01:00:00Z' });
      await sqlEvent(fx.sql, {
        appId: jp,
        deviceId: 'j1',
        name: 'purchase',
        revenue: 1000,
        currency: 'JPY',
        at: '2026-03-08T01:00:00Z',
      });
      const ov = (
        await api(fx, 'GET', `/api/v1/apps/${id}/overview?from=2026-03-08&to=2026-03-08`, {
          auth: k,
        })
      ).body.data.kpis;
      expect(ov.revenue).toEqual({ amount: 20, currency: 'EUR' }); // 10 EUR + 11 USD at 1.1
      expect(ov.unconvertedCurrencies).toEqual([]);
      const pf = (
        await api(fx, 'GET', '/api/v1/portfolio?from=2026-03-08&to=2026-03-08', { auth: k })
      ).body.data;
      expect(pf.totals.revenue).toEqual({ amount: 28.7, currency: 'USD' }); // 11 + 10×1.1 + 1000×0.0067
      const eurTotals = (
        await api(fx, 'GET', '/api/v1/portfolio?from=2026-03-08&to=2026-03-08&currency=EUR', {
          auth: k,
        })
      ).body.data;
      expect(eurTotals.totals.revenue).toEqual({ amount: 26.09, currency: 'EUR' });
      expect(
        pf.apps.map((x: any) => x.share.revenue).reduce((s: number, v: number) => s + v, 0),
      ).toBeCloseTo(1, 3);
    } finally {
      await fx.close();
    }
  });
});

describe('documentation', () => {
  it('documents every endpoint, its parameters and the KPI definitions in the OpenAPI document', async () => {
    const doc = (await api(t, 'GET', '/openapi.json')).body;
    for (const path of ['overview', 'stats', 'events', 'attributions'])
      expect(doc.paths[`/api/v1/apps/{appId}/${path}`]?.get).toBeDefined();
    expect(doc.paths['/api/v1/portfolio'].get).toBeDefined();
    const stats = doc.paths['/api/v1/apps/{appId}/stats'].get;
    expect(stats.parameters.map((p: any) => p.name)).toEqual(
      expect.arrayContaining([
        'from',
        'to',
        'environment',
        'network',
        'campaign',
        'platform',
        'country',
        'linkId',
        'groupBy',
        'metrics',
        'limit',
        'cursor',
      ]),
    );
    expect(stats.description).toContain('`clickToInstallRate`: attributedInstalls / clicks');
    expect(stats.description).toContain('refund');
    expect(JSON.stringify(doc.components.schemas.Kpis)).toContain('not bots or link previews');
  });
});

describe('access', () => {
  it("lets full, read_only and analytics keys and sessions read, scoped to the organization and the key's apps", async () => {
    for (const auth of [await org.key('read_only'), await org.key('analytics'), org.session]) {
      expect((await get(`/api/v1/apps/${appA}/overview?${P}`, auth)).status).toBe(200);
      expect((await get(`/api/v1/apps/${appA}/stats?${P}`, auth)).status).toBe(200);
      expect((await get(`/api/v1/apps/${appA}/events`, auth)).status).toBe(200);
      expect((await get(`/api/v1/apps/${appA}/attributions`, auth)).status).toBe(200);
      expect((await get(`/api/v1/portfolio`, auth)).status).toBe(200);
    }
    const onlyB = await org.key('analytics', [appB]);
    for (const path of ['overview', 'stats', 'events', 'attributions']) {
      const r = await get(`/api/v1/apps/${appA}/${path}`, onlyB);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
    const pf = await get('/api/v1/portfolio', onlyB);
    expect(pf.body.data.apps.map((x: any) => x.appId)).toEqual([appB]);
    expect((await get(`/api/v1/apps/${appA}`, await org.key('analytics'))).status).toBe(403);
  });

  it("answers 404 to another organization's analytics key", async () => {
    const other = await createOrg(t);
    const k = await other.key('analytics');
    for (const path of ['overview', 'stats', 'events', 'attributions']) {
      const r = await get(`/api/v1/apps/${appA}/${path}`, k);
      expect(r.status).toBe(404);
    }
    const pf = await get('/api/v1/portfolio', k);
    expect(pf.status).toBe(200);
    expect(pf.body.data.apps).toEqual([]);
    expect(pf.body.data.totals.installs).toBe(0);
  });
});
