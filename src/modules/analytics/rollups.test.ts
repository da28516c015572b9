import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type TestServer,
} from '../../../test/helpers.ts';
import { fold, rebuildApp } from './rollups.ts';
import {
  payerDaysVersusRaw,
  rollupVersusRaw,
  sqlClick,
  sqlEvent,
  sqlInstall,
} from './test-support.ts';

let t: TestServer;
let key: string;
beforeAll(async () => {
  t = await startTestServer();
  const org = await createOrg(t);
  key = await org.key('full');
});
afterAll(() => t?.close());

async function newApp(timezone = 'America/New_York') {
  const r = await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody({ timezone }) });
  expect(r.status).toBe(201);
  return r.body.data.id as string;
}

async function expectExact(appId: string) {
  const { rollup, raw } = await rollupVersusRaw(t.sql, appId);
  expect(raw.length).toBeGreaterThan(0);
  expect(rollup).toEqual(raw);
  const payers = await payerDaysVersusRaw(t.sql, appId);
  expect(payers.stored).toEqual(payers.raw);
  expect(payers.counts).toEqual(payers.countsFromDays);
}

describe('rollups stay equal to a recount of the raw rows', () => {
  it('through installs, stub-device events, bots, duplicates, an attribution change, a fold and a time-zone change', async () => {
    const appId = await newApp();
    const c1 = await sqlClick(t.sql, { appId, at: '2026-03-08T06:30:00Z', campaign: 'spring' });
    await sqlClick(t.sql, {
      appId,
      at: '2026-03-08T06:30:01Z',
      campaign: 'spring',
      duplicateOf: c1,
    });
    await sqlClick(t.sql, { appId, at: '2026-03-08T06:31:00Z', isBot: true });
    // Events before configure (a stub device), then the install: they move to its attribution.
    await sqlEvent(t.sql, {
      appId,
      deviceId: 'dev-early',
      name: 'purchase',
      revenue: 9.99,
      at: '2026-03-08T07:00:00Z',
    });
    await sqlInstall(t.sql, {
      appId,
      deviceId: 'dev-early',
      network: 'meta',
      campaign: 'spring',
      at: '2026-03-08T07:05:00Z',
    });
    const asa = await sqlInstall(t.sql, {
      appId,
      network: 'organic',
      at: '2026-03-09T03:59:00Z',
      platform: 'ios',
    });
    await sqlEvent(t.sql, {
      appId,
      deviceId: asa.deviceId,
      name: 'start_trial',
      at: '2026-03-09T05:00:00Z',
    });
    await sqlEvent(t.sql, {
      appId,
      deviceId: asa.deviceId,
      name: 'subscribe',
      revenue: 4.99,
      currency: 'EUR',
      at: '2026-03-10T05:00:00Z',
    });
    await sqlEvent(t.sql, {
      appId,
      deviceId: asa.deviceId,
      name: 'refund',
      revenue: 4.99,
      currency: 'EUR',
      at: '2026-03-11T05:00:00Z',
    });
    await sqlEvent(t.sql, {
      appId,
      deviceId: asa.deviceId,
      name: '_set_user_id',
      at: '2026-03-11T05:00:00Z',
    });
    await expectExact(appId);

    // Apple Search Ads answers later: the install and its events move to the new network.
    await t.sql`update attributions set network = 'apple_search_ads', match_type = 'adservices', campaign = 'asa-1'
                where id = ${asa.attributionId}`;
    await expectExact(appId);
    const [moved] = await t.sql<{ installs: string; events: string }[]>`
      select sum(installs)::text as installs, sum(events)::text as events
      from analytics_daily r join analytics_dims d on d.id = r.dims_id
      where r.app_id = ${appId} and (d.dims).network = 'apple_search_ads'`;
    expect(moved).toEqual({ installs: '1', events: '4' });

    await fold(t.sql);
    const [{ n }] = await t.sql<
      { n: number }[]
    >`select count(*)::int as n from analytics_inbox where app_id = ${appId}`;
    expect(n).toBe(0);
    await expectExact(appId);

    // A new time zone re-dates every raw row (the 04:00Z install is on the 8th in New York, the 9th in UTC).
    const patch = await api(t, 'PATCH', `/api/v1/apps/${appId}`, {
      auth: key,
      body: { timezone: 'Asia/Kolkata' },
    });
    expect(patch.status).toBe(200);
    await expectExact(appId);
    await fold(t.sql);
    await expectExact(appId);

    await rebuildApp(t.sql, appId);
    await expectExact(appId);
  });

  it('when one statement writes the device, its attribution and events (as configure does), or changes it and adds events', async () => {
    const appId = await newApp('Europe/Berlin');
    await sqlEvent(t.sql, {
      appId,
      deviceId: 'stub',
      name: 'purchase',
      revenue: 3,
      at: '2026-04-01T10:00:00Z',
    }); // before configure
    const cte = (deviceId: string, network: string) => t.sql`
      with dev as (
        insert into devices (app_id, environment, device_id, platform) values (${appId}, 'live', ${deviceId}, 'ios')
        on conflict (app_id, environment, device_id) do update set last_seen_at = now() returning id),
      att as (
        insert into attributions (id, app_id, environment, device_pk, device_id, platform, network, match_type, installed_at)
        select 'att_' || ${deviceId}, ${appId}, 'live', id, ${deviceId}, 'ios', ${network}, 'click_id', '2026-04-01T12:00:00Z' from dev
        returning device_pk)
      insert into events (id, app_id, environment, device_pk, device_id, event_name, source, revenue, currency, occurred_at, received_at)
      select 'evt_' || ${deviceId} || n, ${appId}, 'live', device_pk, ${deviceId}, e, 'system', r, 'USD', '2026-04-01T12:00:00Z', '2026-04-01T12:00:00Z'
      from att, (values (1, 'install', null::numeric), (2, 'purchase', 5)) v(n, e, r)`;
    await cte('stub', 'meta');
    await cte('fresh', 'tiktok');
    await expectExact(appId);
    await t.sql`
      with moved as (update attributions set network = 'google' where id = 'att_fresh' returning device_pk)
      insert into events (id, app_id, environment, device_pk, device_id, event_name, source, revenue, currency, occurred_at, received_at)
      select 'evt_fresh3', ${appId}, 'live', device_pk, 'fresh', 'purchase', 'sdk', 7, 'USD', '2026-04-02T12:00:00Z', '2026-04-02T12:00:00Z' from moved`;
    await expectExact(appId);
  });

  it('under concurrent event writes and attribution changes (no lost or doubled event)', async () => {
    const appId = await newApp('UTC');
    const installs = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        sqlInstall(t.sql, { appId, network: 'organic', at: `2026-05-0${1 + (i % 3)}T10:00:00Z` }),
      ),
    );
    const writes: Promise<unknown>[] = [];
    for (let round = 0; round < 5; round++) {
      for (const [i, d] of installs.entries()) {
        writes.push(
          sqlEvent(t.sql, {
            appId,
            deviceId: d.deviceId,
            name: 'purchase',
            revenue: 1 + i,
            at: `2026-05-0${1 + round}T12:00:00Z`,
          }),
        );
        if (round === 2)
          writes.push(
            t.sql`update attributions set network = ${i % 2 ? 'meta' : 'tiktok'}, match_type = 'click_id' where id = ${d.attributionId}`,
          );
      }
    }
    writes.push(fold(t.sql));
    await Promise.all(writes);
    await expectExact(appId);
    const [{ payers }] = await t.sql<
      { payers: number }[]
    >`select count(distinct device_pk)::int as payers from analytics_payers where app_id = ${appId}`;
    expect(payers).toBe(8);
    const [{ wrong }] = await t.sql<{ wrong: number }[]>`
      select count(*)::int as wrong from analytics_payers p join attributions a on a.device_pk = p.device_pk
      join analytics_dims d on d.id = p.dims_id
      where p.app_id = ${appId} and (d.dims).network <> a.network`;
    expect(wrong).toBe(0);
  });
});
