/**
 * Issue 10 regressions on analytics: periods bounded and iterated by day counts (2); rollups
 * poisoned by huge amounts before the revenue bound existed are repaired by migration 0007 (3);
 * stored non-ASCII URLs are normalised by the same migration (8).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type TestServer,
} from '../../../test/helpers.ts';
import { roundMoney } from './money.ts';
import { addDays, daysOf } from './period.ts';
import { payerDaysVersusRaw, rollupVersusRaw, sqlEvent, sqlInstall } from './test-support.ts';

let t: TestServer;
let key: string;
let appId: string;
beforeAll(async () => {
  t = await startTestServer();
  const org = await createOrg(t);
  key = await org.key('analytics');
  const full = await org.key('full');
  appId = (await api(t, 'POST', '/api/v1/apps', { auth: full, body: appBody({ timezone: 'UTC' }) }))
    .body.data.id;
});
afterAll(() => t?.close());

const get = (path: string) => api(t, 'GET', path, { auth: key });
const expectDayError = (r: { status: number; body: any }, field: 'from' | 'to') => {
  expect(r.status).toBe(400);
  expect(r.body.error.code).toBe('validation_error');
  expect(r.body.error.details).toContainEqual({
    path: field,
    message: 'must be a day from 2000-01-01 to 2999-12-31',
  });
};

describe('report periods', () => {
  const endpoints = () => [
    `/api/v1/apps/${appId}/overview`,
    `/api/v1/apps/${appId}/stats`,
    `/api/v1/apps/${appId}/attributions`,
    `/api/v1/apps/${appId}/events`,
    '/api/v1/portfolio',
  ];

  it('a day outside 2000-01-01 … 2999-12-31 is a 400 naming from or to, on every analytics endpoint', async () => {
    for (const path of endpoints()) {
      expectDayError(await get(`${path}?from=9999-12-30`), 'from');
      expectDayError(await get(`${path}?from=9999-12-25&to=9999-12-31`), 'to');
      expectDayError(await get(`${path}?from=0000-01-01&to=0000-01-07`), 'from');
      expectDayError(await get(`${path}?from=0099-03-01&to=0099-03-05`), 'from');
      expectDayError(await get(`${path}?to=1999-12-31`), 'to');
    }
    // The server is still answering.
    expect((await get(`/api/v1/apps/${appId}/overview`)).status).toBe(200);
  });

  it('the first and last days of the range give exact periods and time series', async () => {
    const first = await get(`/api/v1/apps/${appId}/overview?from=2000-01-01&to=2000-01-07`);
    expect(first.status).toBe(200);
    expect(first.body.data.period).toEqual({
      from: '2000-01-01',
      to: '2000-01-07',
      timezone: 'UTC',
    });
    expect(first.body.data.timeseries.map((d: { date: string }) => d.date)).toEqual([
      '2000-01-01',
      '2000-01-02',
      '2000-01-03',
      '2000-01-04',
      '2000-01-05',
      '2000-01-06',
      '2000-01-07',
    ]);

    const last = await get(`/api/v1/apps/${appId}/overview?from=2999-12-30`);
    expect(last.status).toBe(200);
    expect(last.body.data.period).toEqual({
      from: '2999-12-30',
      to: '2999-12-30',
      timezone: 'UTC',
    });
    expect(last.body.data.timeseries.map((d: { date: string }) => d.date)).toEqual(['2999-12-30']);

    const leap = await get(
      `/api/v1/apps/${appId}/stats?from=2000-02-27&to=2000-03-01&groupBy=date`,
    );
    expect(leap.status).toBe(200);
    expect(leap.body.data).toEqual([]); // no data, but an answer
    expect((await get(`/api/v1/portfolio?from=2999-12-01&to=2999-12-31`)).status).toBe(200);
  });

  it('days are counted by integers, years below 100 included', () => {
    expect(daysOf({ from: '2000-02-27', to: '2000-03-01' })).toEqual([
      '2000-02-27',
      '2000-02-28',
      '2000-02-29',
      '2000-03-01',
    ]);
    expect(daysOf({ from: '9999-12-30', to: '9999-12-31' })).toEqual(['9999-12-30', '9999-12-31']); // no endless loop
    expect(addDays('0050-03-01', -1)).toBe('0050-02-28');
    expect(daysOf({ from: '0004-02-28', to: '0004-03-01' })).toEqual([
      '0004-02-28',
      '0004-02-29',
      '0004-03-01',
    ]);
  });
});

describe('money is always finite', () => {
  it('roundMoney never returns Infinity or NaN', () => {
    expect(roundMoney(1e307, 'USD')).toBe(1e307);
    expect(roundMoney(Infinity, 'BHD')).toBe(Number.MAX_VALUE);
    expect(roundMoney(-Infinity, 'USD')).toBe(-Number.MAX_VALUE);
    expect(roundMoney(NaN, 'USD')).toBe(0);
    expect(roundMoney(9.996, 'USD')).toBe(10);
  });
});

describe('migration 0007 repairs what was written before the fixes', () => {
  const migration = readFileSync(
    new URL('../../db/migrations/0007_hardening_repairs.sql', import.meta.url),
    'utf8',
  );
  const runMigration = () => t.sql.begin((tx) => tx.unsafe(migration));
  const day = (n: number) => `${addDays(new Date().toISOString().slice(0, 10), n)}T12:00:00Z`;

  it('takes poisoned amounts out of the rollups and the paying users, keeps the events flagged, and leaves the rest exact', async () => {
    const full = await (await createOrg(t)).key('full');
    const own = (
      await api(t, 'POST', '/api/v1/apps', { auth: full, body: appBody({ timezone: 'UTC' }) })
    ).body.data.id as string;
    const a = await sqlInstall(t.sql, { appId: own, at: day(-5), network: 'meta', campaign: 'c1' });
    const b = await sqlInstall(t.sql, { appId: own, at: day(-5), network: 'google' });
    // Written as the old ingestion stored them: the amounts as sent.
    await sqlEvent(t.sql, {
      appId: own,
      deviceId: a.deviceId,
      name: 'purchase',
      at: day(-3),
      revenue: 5,
    });
    const poison = await sqlEvent(t.sql, {
      appId: own,
      deviceId: a.deviceId,
      name: 'purchase',
      at: day(-2),
      revenue: 1e307,
    });
    await t.sql`select analytics_fold(100000)`; // some of it folded into the rollups, the rest still pending
    await sqlEvent(t.sql, {
      appId: own,
      deviceId: a.deviceId,
      name: 'purchase',
      at: day(-1),
      revenue: 3,
    });
    await sqlEvent(t.sql, {
      appId: own,
      deviceId: b.deviceId,
      name: 'purchase',
      at: day(-2),
      revenue: -1e300,
    });
    await sqlEvent(t.sql, {
      appId: own,
      deviceId: b.deviceId,
      name: 'refund',
      at: day(-1),
      revenue: 1e300,
    });
    await sqlEvent(t.sql, {
      appId: own,
      deviceId: b.deviceId,
      name: 'purchase',
      at: day(-1),
      revenue: 9.99,
    });

    const overview = () => api(t, 'GET', `/api/v1/apps/${own}/overview`, { auth: full });
    const before = await overview();
    expect(before.status).toBe(200); // finite-safe money: answered even while poisoned
    expect(before.body.data.kpis.revenue.amount).toBeGreaterThan(1e306);

    await runMigration();

    const after = await overview();
    expect(after.status).toBe(200);
    expect(after.body.data.kpis).toMatchObject({
      revenue: { amount: 17.99, currency: 'USD' },
      purchases: 3,
      payingUsers: 2,
    });
    const daily = Object.fromEntries(
      after.body.data.timeseries.map((d: any) => [
        d.date,
        [d.revenue.amount, d.purchases, d.payingUsers],
      ]),
    );
    expect(daily[day(-3).slice(0, 10)]).toEqual([5, 1, 1]);
    expect(daily[day(-2).slice(0, 10)]).toEqual([0, 0, 0]);
    expect(daily[day(-1).slice(0, 10)]).toEqual([12.99, 2, 2]);
    const stats = await api(t, 'GET', `/api/v1/apps/${own}/stats?groupBy=network`, { auth: full });
    expect(stats.status).toBe(200);
    expect(stats.body.data.find((r: any) => r.dimensions.network === 'meta').metrics).toMatchObject(
      { revenue: { amount: 8 }, payingUsers: 1 },
    );
    const portfolio = await api(t, 'GET', '/api/v1/portfolio', { auth: full });
    expect(portfolio.status).toBe(200);
    expect(portfolio.body.data.totals.revenue).toEqual({ amount: 17.99, currency: 'USD' });

    // The events are all still there; the poisoned ones flagged, their value kept as text.
    const events = await api(
      t,
      'GET',
      `/api/v1/apps/${own}/events?eventName=purchase&eventName=refund`,
      { auth: full },
    );
    expect(events.body.data).toHaveLength(6);
    const p = events.body.data.find((e: any) => e.id === poison);
    expect(p).toMatchObject({ revenue: null, flags: ['revenue_out_of_range'] });
    expect(Number(p.revenueRaw)).toBe(1e307);
    expect(
      events.body.data.filter((e: any) => e.flags.includes('revenue_out_of_range')),
    ).toHaveLength(3);

    // Rollups and payer rows equal a recount from the raw rows.
    const { rollup, raw } = await rollupVersusRaw(t.sql, own);
    expect(rollup).toEqual(raw);
    const payers = await payerDaysVersusRaw(t.sql, own);
    expect(payers.stored).toEqual(payers.raw);
    expect(payers.counts).toEqual(payers.countsFromDays);

    // A second run finds nothing to do.
    await runMigration();
    expect((await overview()).body.data.kpis).toEqual(after.body.data.kpis);
  });

  it('percent-encodes the non-ASCII characters of stored URLs (ASCII hosts) and leaves international hosts to the redirect', async () => {
    const org = await createOrg(t);
    const full = await org.key('full');
    const id = (await api(t, 'POST', '/api/v1/apps', { auth: full, body: appBody() })).body.data
      .id as string;
    await t.sql`update apps set ios_store_url = 'https://apps.apple.com/de/app/kürbis/id123', web_url = 'https://bücher.example/ä' where id = ${id}`;
    const link = await api(t, 'POST', `/api/v1/apps/${id}/links`, {
      auth: full,
      body: { id: 'mig-link-1' },
    });
    expect(link.status).toBe(201);
    await t.sql`update links set destination_android = 'https://play.google.com/store/apps/details?id=a.b&hl=日本' where id = 'mig-link-1'`;

    await runMigration();

    const [app] = await t.sql`select ios_store_url, web_url from apps where id = ${id}`;
    expect(app).toEqual({
      ios_store_url: 'https://apps.apple.com/de/app/k%C3%BCrbis/id123',
      web_url: 'https://bücher.example/ä',
    });
    expect(app.ios_store_url).toBe(new URL('https://apps.apple.com/de/app/kürbis/id123').href);
    const [l] = await t.sql`select destination_android from links where id = 'mig-link-1'`;
    expect(l.destination_android).toBe(
      new URL('https://play.google.com/store/apps/details?id=a.b&hl=日本').href,
    );
  });
});
