import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { createSdkApp, sdkPost, track, type SdkApp } from '../tracking/test-support.ts';
import { valuesFor, windowAt } from './device-values.ts';
import type { SchemaRevision } from './schema-store.ts';

let t: TestServer;
let app: SdkApp;

const SCHEMA = {
  fine: [
    { value: 0, when: { event: 'install' } },
    { value: 8, when: { event: 'start_trial' } },
    { value: 20, when: { event: 'purchase', revenueMin: 0.01, revenueMax: 9.99 } },
    { value: 40, when: { event: 'purchase', revenueMin: 10 } },
  ],
  coarse: [
    { window: 0, value: 'low', when: { event: 'install' } },
    { window: 0, value: 'high', when: { event: 'purchase' } },
    { window: 1, value: 'medium', when: { event: 'start_trial' } },
  ],
  lock: [{ window: 0, when: { event: 'purchase', revenueMin: 10 } }],
  campaigns: {},
};

beforeAll(async () => {
  t = await startTestServer({ FX_RATES: '{"EUR":1.5}' }, undefined, { jobs: false });
  app = await createSdkApp(t);
  const r = await api(t, 'PUT', `/api/v1/apps/${app.appId}/skan`, {
    auth: app.apiKey,
    body: SCHEMA,
  });
  expect(r.status).toBe(200);
});
afterAll(() => t?.close());

const values = (deviceId: unknown, key = app.live) =>
  sdkPost(t, '/api/track/skan', JSON.stringify({ device_id: deviceId }), {
    'content-type': 'application/json',
    'x-apprefer-key': key,
  });

async function eventsStored(deviceId: string, n: number) {
  await eventually(async () => {
    const [{ c }] =
      await t.sql`select count(*)::int as c from events where device_id = ${deviceId}`;
    return c >= n;
  });
}

describe('GET /api/track/skan', () => {
  it('answers the current schema to an SDK key, 401 without one', async () => {
    const r = await sdkPost(t, '/api/track/skan', '', { 'x-apprefer-key': app.test }, 'GET');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ version: 4, revision: 1, currency: 'USD', ...SCHEMA });
    expect(r.headers.get('cache-control')).toBe('no-store');
    const bad = await sdkPost(
      t,
      '/api/track/skan',
      '',
      { 'x-apprefer-key': 'pk_live_000000000000000000000000' },
      'GET',
    );
    expect(bad.status).toBe(401);
    expect(bad.json.error.code).toBe('invalid_sdk_key');
    expect((await sdkPost(t, '/api/track/skan', '', {}, 'GET')).status).toBe(401);
  });
});

describe('POST /api/track/skan', () => {
  it('answers the values of a fresh install, then follows its events and revenue', async () => {
    const d = 'skan-device-1';
    expect((await track(t, 'configure', app.live, { device_id: d })).status).toBe(200);
    const fresh = await values(d);
    expect(fresh.status).toBe(200);
    expect(fresh.json).toMatchObject({
      window: 0,
      fine_value: 0,
      coarse_value: 'low',
      lock_window: false,
      schema_revision: 1,
    });
    expect(Date.parse(fresh.json.window_ends_at)).toBeGreaterThan(Date.now());

    await track(t, 'event', app.live, { device_id: d, event_name: 'start_trial' });
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: 'purchase',
      revenue: 4.99,
      currency: 'USD',
    });
    await eventsStored(d, 2);
    expect((await values(d)).json).toMatchObject({
      fine_value: 20,
      coarse_value: 'high',
      lock_window: false,
    });

    // 4 EUR at 1.5 USD each brings the total to 10.99 USD: the higher rule, and the lock.
    await track(t, 'event', app.live, {
      device_id: d,
      event_name: 'purchase',
      revenue: 4,
      currency: 'EUR',
    });
    await eventsStored(d, 3);
    expect((await values(d)).json).toMatchObject({
      fine_value: 40,
      coarse_value: 'high',
      lock_window: true,
    });
  });

  it('moves to the next window with the days since install; no fine value after the first', async () => {
    const d = 'skan-device-2';
    await track(t, 'configure', app.live, { device_id: d });
    await track(t, 'event', app.live, { device_id: d, event_name: 'start_trial' });
    await eventsStored(d, 1);
    await t.sql`update devices set installed_at = now() - interval '4 days' where device_id = ${d}`;
    expect((await values(d)).json).toMatchObject({
      window: 1,
      fine_value: null,
      coarse_value: 'medium',
      lock_window: false,
    });
    await t.sql`update devices set installed_at = now() - interval '40 days' where device_id = ${d}`;
    expect((await values(d)).json).toMatchObject({
      window: null,
      window_ends_at: null,
      fine_value: null,
      coarse_value: null,
    });
  });

  it('keeps environments apart, and refuses a missing device_id or an unknown device', async () => {
    const d = 'skan-device-3';
    await track(t, 'configure', app.live, { device_id: d });
    const sandbox = await values(d, app.test);
    expect(sandbox.status).toBe(404);
    expect(sandbox.json.error.code).toBe('unknown_device');
    for (const body of ['{}', '{"device_id":5}', '{"device_id":""}']) {
      const r = await sdkPost(t, '/api/track/skan', body, { 'x-apprefer-key': app.live });
      expect(r.status, body).toBe(400);
      expect(r.json.error.message).toMatch(/^device_id/);
    }
    expect(
      (await sdkPost(t, '/api/track/skan', 'nope', { 'x-apprefer-key': app.live })).json.error.code,
    ).toBe('invalid_json');
  });
});

describe('values (pure)', () => {
  it('windows are days 0–2, 3–7, 8–35 since install', () => {
    const i = new Date('2026-01-01T12:00:00Z');
    const at = (h: number) => windowAt(i, new Date(i.getTime() + h * 3_600_000));
    expect([at(0), at(71), at(72), at(191), at(192), at(36 * 24 - 1), at(36 * 24)]).toEqual([
      0,
      0,
      1,
      1,
      2,
      2,
      null,
    ]);
  });
  it('without a schema, nothing to report', () => {
    const v = valuesFor(null as SchemaRevision | null, new Map(), new Date(), new Date());
    expect(v).toMatchObject({
      window: 0,
      fine_value: null,
      coarse_value: null,
      schema_revision: 0,
    });
  });
});
