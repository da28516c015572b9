/** /api/track/event over HTTP: storage, revenue and currency, dedup, reserved events. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/helpers.ts';
import { createSdkApp, track, type SdkApp } from './test-support.ts';
import { eventFingerprint } from './sdk-body.ts';

let t: TestServer;
let app: SdkApp;
beforeAll(async () => {
  t = await startTestServer();
  app = await createSdkApp(t, { currency: 'EUR' });
});
afterAll(() => t?.close());

let n = 0;
const dev = () => `ev-device-${++n}-${Math.random().toString(36).slice(2)}`;
const sdk = { 'x-sdk-version': '0.4.0' };
const eventsOf = (deviceId: string) =>
  t.sql`select * from events where device_id = ${deviceId} and source <> 'system' order by seq`;

describe('storage', () => {
  it('stores the event with the server receive time, properties as received, and answers {"ok":true}', async () => {
    const d = dev();
    const before = Date.now();
    const r = await track(
      t,
      'event',
      app.live,
      {
        device_id: d,
        event_name: 'tutorial_complete',
        properties: { step: 'final', nested: { a: [1, null, 'x'] }, raw: '[B@8e4f2a1' },
      },
      sdk,
    );
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"ok":true}');
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const [e] = await eventsOf(d);
    expect(e).toMatchObject({
      event_name: 'tutorial_complete',
      source: 'sdk',
      environment: 'live',
      is_control: false,
      app_id: app.appId,
    });
    expect(e.id).toMatch(/^evt_/);
    expect(e.properties).toEqual({
      step: 'final',
      nested: { a: [1, null, 'x'] },
      raw: '[B@8e4f2a1',
    });
    expect(e.received_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(e.occurred_at.getTime()).toBe(e.received_at.getTime());
  });

  it('events for unknown devices are accepted and create a device stub (not an install)', async () => {
    const d = dev();
    expect((await track(t, 'event', app.live, { device_id: d, event_name: 'x' })).status).toBe(200);
    const [device] =
      await t.sql`select installed_at, attribution_id from devices where device_id = ${d}`;
    expect(device).toEqual({ installed_at: null, attribution_id: null });
    const [e] = await eventsOf(d);
    expect(e.source).toBe('s2s'); // no X-SDK-Version: a server caller
  });

  it('a "__proto__" key is stored as an ordinary key', async () => {
    const d = dev();
    const raw = JSON.stringify({ device_id: d, event_name: 'proto' }).replace(
      /}$/,
      ',"properties":{"__proto__":{"polluted":1},"ok":1}}',
    );
    const r = await fetch(`${t.url}/api/track/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-apprefer-key': app.live },
      body: raw,
    });
    expect(r.status).toBe(200);
    const [e] = await t.sql`select properties::text as p from events where device_id = ${d}`;
    expect(JSON.parse(e.p)).toEqual(JSON.parse('{"__proto__":{"polluted":1},"ok":1}'));
    expect(({} as any).polluted).toBeUndefined();
  });

  it('a non-object properties value is ignored', async () => {
    const d = dev();
    await track(t, 'event', app.live, { device_id: d, event_name: 'x', properties: 'nope' });
    expect((await eventsOf(d))[0].properties).toEqual({});
  });
});

describe('revenue and currency', () => {
  const cases: [
    string,
    Record<string, unknown>,
    {
      revenue: string | null;
      currency: string | null;
      currency_raw: string | null;
      flags?: string[];
    },
  ][] = [
    [
      'number + lower-case currency',
      { revenue: 4.99, currency: 'eur' },
      { revenue: '4.99', currency: 'EUR', currency_raw: 'eur' },
    ],
    [
      'whole number as 10.0',
      { revenue: 10.0, currency: 'USD' },
      { revenue: '10', currency: 'USD', currency_raw: 'USD' },
    ],
    [
      'numeric string',
      { revenue: '9.99', currency: ' usd ' },
      { revenue: '9.99', currency: 'USD', currency_raw: ' usd ' },
    ],
    [
      'inside properties',
      { properties: { revenue: '2.50', currency: 'GBP' } },
      { revenue: '2.5', currency: 'GBP', currency_raw: 'GBP' },
    ],
    [
      'inside params',
      { params: { revenue: 3, currency: 'JPY' } },
      { revenue: '3', currency: 'JPY', currency_raw: 'JPY' },
    ],
    [
      'invalid currency → app default, raw kept',
      { revenue: 1, currency: 'dollars' },
      { revenue: '1', currency: 'EUR', currency_raw: 'dollars', flags: ['currency_defaulted'] },
    ],
    [
      'empty currency → app default',
      { revenue: 1, currency: '' },
      { revenue: '1', currency: 'EUR', currency_raw: null, flags: ['currency_defaulted'] },
    ],
    [
      'negative is stored',
      { revenue: -4.99, currency: 'USD' },
      { revenue: '-4.99', currency: 'USD', currency_raw: 'USD' },
    ],
    [
      'implausible is stored and flagged',
      { revenue: 250_000, currency: 'USD' },
      { revenue: '250000', currency: 'USD', currency_raw: 'USD', flags: ['revenue_implausible'] },
    ],
    [
      'out of range (> 1e9) is stored without revenue, flagged',
      { revenue: 1.7976931348623157e308, currency: 'USD' },
      {
        revenue: null,
        currency: 'USD',
        currency_raw: 'USD',
        flags: ['revenue_implausible', 'revenue_out_of_range'],
      },
    ],
    [
      'non-numeric string is absent',
      { revenue: 'free', currency: 'USD' },
      { revenue: null, currency: 'USD', currency_raw: 'USD' },
    ],
    ['boolean is absent', { revenue: true }, { revenue: null, currency: null, currency_raw: null }],
  ];
  for (const [name, body, want] of cases) {
    it(name, async () => {
      const d = dev();
      const r = await track(t, 'event', app.live, {
        device_id: d,
        event_name: 'purchase',
        ...body,
      });
      expect(r.status).toBe(200);
      const [e] = await eventsOf(d);
      expect({ revenue: e.revenue, currency: e.currency, currency_raw: e.currency_raw }).toEqual({
        revenue: want.revenue,
        currency: want.currency,
        currency_raw: want.currency_raw,
      });
      expect(e.flags).toEqual(want.flags ?? []);
    });
  }
});

describe('dedup', () => {
  it('with event_id: the first occurrence wins, a repeat with another payload records nothing', async () => {
    const d = dev();
    const a = await track(t, 'event', app.live, {
      device_id: d,
      event_name: 'purchase',
      event_id: 'order-1',
      revenue: 10,
      currency: 'USD',
    });
    const b = await track(t, 'event', app.live, {
      device_id: d,
      event_name: 'purchase',
      event_id: 'order-1',
      revenue: 99,
      currency: 'USD',
    });
    expect([a.status, b.status]).toEqual([200, 200]);
    const rows = await eventsOf(d);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ revenue: '10', event_id: 'order-1' });
    // Same event_id in the other environment is another event.
    await track(t, 'event', app.test, {
      device_id: d,
      event_name: 'purchase',
      event_id: 'order-1',
    });
    expect(
      (
        await t.sql`select count(*)::int as n from events where event_id = 'order-1' and app_id = ${app.appId}`
      )[0].n,
    ).toBe(2);
  });

  it('without event_id: an exact repeat (any key order) is stored once; different payloads are not duplicates', async () => {
    const d = dev();
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: 'level_complete',
      properties: { level: 3, mode: 'hard' },
    });
    await track(t, 'event', app.live, {
      properties: { mode: 'hard', level: 3 },
      event_name: 'level_complete',
      device_id: d,
    });
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: 'level_complete',
      properties: { level: 4, mode: 'hard' },
    });
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: 'level_complete',
      properties: { level: 3, mode: 'hard' },
      revenue: 1,
    });
    const rows = await eventsOf(d);
    expect(rows.map((r) => [r.properties.level, r.revenue])).toEqual([
      [3, null],
      [4, null],
      [3, '1'],
    ]);
  });

  it('a repeat after the window is a new event', async () => {
    const d = dev();
    await track(t, 'event', app.live, { device_id: d, event_name: 'again' });
    const fp = eventFingerprint(app.appId, 'live', {
      deviceId: d,
      eventName: 'again',
      properties: {},
      revenue: null,
      currency: null,
    });
    const aged =
      await t.sql`update event_fingerprints set seen_at = seen_at - interval '121 seconds' where fingerprint = ${fp}::uuid`;
    expect(aged.count).toBe(1);
    await track(t, 'event', app.live, { device_id: d, event_name: 'again' });
    expect(await eventsOf(d)).toHaveLength(2);
  });

  it('concurrent duplicates (retries racing, both hosts) are stored once and counted as suppressed', async () => {
    const d = dev();
    const [before] =
      await t.sql`select coalesce(sum(suppressed), 0)::int as n from event_dedup_counts where app_id = ${app.appId} and environment = 'live'`;
    const replies = await Promise.all(
      Array.from({ length: 20 }, () =>
        track(t, 'event', app.live, { device_id: d, event_name: 'race', properties: { k: 1 } }),
      ),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const withId = await Promise.all(
      Array.from({ length: 20 }, () =>
        track(t, 'event', app.live, { device_id: d, event_name: 'race-id', event_id: 'race-1' }),
      ),
    );
    expect(withId.every((r) => r.status === 200)).toBe(true);
    expect((await eventsOf(d)).map((r) => r.event_name)).toEqual(['race', 'race-id']);
    const [after] =
      await t.sql`select coalesce(sum(suppressed), 0)::int as n from event_dedup_counts where app_id = ${app.appId} and environment = 'live'`;
    expect(after.n - before.n).toBe(38);
  });
});

describe('reserved events', () => {
  it('_advanced_matching merges hashes into the device; later calls replace only their keys; plaintext is hashed, never stored', async () => {
    const d = dev();
    const em = '86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d';
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: '_advanced_matching',
      advanced_matching: {
        em: em.toUpperCase(),
        ph: '11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51',
      },
    });
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: '_advanced_matching',
      advanced_matching: {
        ph: '+1 (415) 555-0132',
        fn: ' Jane ',
        db: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      },
    });
    const [device] = await t.sql`select advanced_matching from devices where device_id = ${d}`;
    expect(device.advanced_matching).toEqual({
      em,
      ph: '11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51', // sha256("14155550132")
      fn: '81f8f6dde88365f3928796ec7aa53f72820b06db8664f5fe76a7eb13e24546a2', // sha256("jane")
    });
    const rows = await eventsOf(d);
    expect(rows.every((r) => r.is_control)).toBe(true);
    expect(JSON.stringify(rows.map((r) => r.properties))).not.toContain('555');
  });

  it('_set_user_id links the user (history kept, latest current); empty user ids are ignored', async () => {
    const d = dev();
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: '_set_user_id',
      properties: { user_id: 'user_1' },
    });
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: '_set_user_id',
      properties: { user_id: 'user_2' },
    });
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: '_set_user_id',
      properties: { user_id: '' },
    });
    await track(t, 'event', app.live, { device_id: d, event_name: '_set_user_id' });
    const [device] = await t.sql`select id, customer_user_id from devices where device_id = ${d}`;
    expect(device.customer_user_id).toBe('user_2');
    const links =
      await t.sql`select user_id from device_users where device_pk = ${device.id} order by linked_at, user_id`;
    expect(links.map((l) => l.user_id)).toEqual(['user_1', 'user_2']);
    // Later events carry the current user id.
    await track(t, 'event', app.live, { device_id: d, event_name: 'after_login' });
    const [e] =
      await t.sql`select user_id from events where device_id = ${d} and event_name = 'after_login'`;
    expect(e.user_id).toBe('user_2');
  });

  it('other _names are stored as control events; client-sent install / qualified_trial are plain custom events', async () => {
    const d = dev();
    for (const name of ['_debug_ping', 'install', 'qualified_trial']) {
      expect(
        (await track(t, 'event', app.live, { device_id: d, event_name: name }, sdk)).status,
      ).toBe(200);
    }
    const rows = await eventsOf(d);
    expect(rows.map((r) => [r.event_name, r.is_control, r.source])).toEqual([
      ['_debug_ping', true, 'sdk'],
      ['install', false, 'sdk'],
      ['qualified_trial', false, 'sdk'],
    ]);
    // No system install was created for this device.
    const [sys] =
      await t.sql`select count(*)::int as n from events where device_id = ${d} and source = 'system'`;
    expect(sys.n).toBe(0);
  });
});

describe('durability', () => {
  it('every event answered 200 is in the database, also when the server shuts down mid-load', async () => {
    const t2 = await startTestServer();
    const a = await createSdkApp(t2);
    let settled = 0;
    let flowing: () => void;
    const trafficFlows = new Promise<void>((r) => {
      flowing = r;
    });
    const replies = Array.from({ length: 400 }, (_, i) =>
      track(t2, 'event', a.live, {
        device_id: `dur-${i % 30}`,
        event_name: 'level_complete',
        properties: { level: i },
      })
        .catch(() => null)
        .finally(() => {
          if (++settled === 50) flowing();
        }),
    );
    await trafficFlows; // shut down while the rest is still in flight
    const closing = t2.app.close();
    const answered = (await Promise.all(replies)).filter((r) => r?.status === 200).length;
    await closing;
    const [{ n }] = await t2.sql`select count(*)::int as n from events where app_id = ${a.appId}`;
    expect(answered).toBeGreaterThan(0);
    expect(n).toBeGreaterThanOrEqual(answered);
    await t2.close();
  });
});
