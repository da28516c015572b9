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

// Part 1 of 0007 (poisoned amounts out of the rollups) ran against the rollup schema of 0004,
// which 0015 replaced; it cannot run again. Part 2 (stored URLs) still can.
describe('migration 0007 repairs what was written before the fixes', () => {
  const file = readFileSync(
    new URL('../../db/migrations/0007_hardening_repairs.sql', import.meta.url),
    'utf8',
  );
  const migration = file.slice(file.lastIndexOf('-- -----', file.indexOf('-- 2. Stored URLs')));
  const runMigration = () => t.sql.begin((tx) => tx.unsafe(migration));

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
