import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  eventually,
  startTestServer,
  type ApiResponse,
  type Org,
  type TestServer,
} from '../../../test/helpers.ts';

let t: TestServer;
let org: Org;
let key: string;
beforeAll(async () => {
  t = await startTestServer();
  org = await createOrg(t);
  key = await org.key('full');
});
afterAll(() => t?.close());

describe('Apps API: create, read, update, archive', () => {
  it('creates an app with unique SDK keys and default store URLs', async () => {
    const r = await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody() });
    expect(r.status).toBe(201);
    const app = r.body.data;
    expect(app.id).toMatch(/^app_[0-9a-f]{11}$/);
    expect(app.sdkKeys.live).toMatch(/^pk_live_[0-9a-f]{24}$/);
    expect(app.sdkKeys.test).toMatch(/^pk_test_[0-9a-f]{24}$/);
    expect(app.ios).toEqual({
      bundleId: 'com.example.fittrack',
      appStoreId: '1234567890',
      storeUrl: 'https://apps.apple.com/app/id1234567890',
    });
    expect(app.android.storeUrl).toBe(
      'https://play.google.com/store/apps/details?id=com.example.fittrack',
    );
    expect(app.attributionSettings).toEqual({
      clickWindowHours: 168,
      probabilisticEnabled: true,
      probabilisticWindowHours: 24,
      reattributionWindowDays: 90,
    });
    expect(app.qualifiedTrials).toEqual({ enabled: false, delayHours: 2 });
    expect(app.archived).toBe(false);
    expect(new Date(app.createdAt).toISOString()).toBe(app.createdAt);

    const second = await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: appBody({ name: 'Other' }),
    });
    expect(second.body.data.sdkKeys.live).not.toBe(app.sdkKeys.live);

    const read = await api(t, 'GET', `/api/v1/apps/${app.id}`, { auth: key });
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual(app);
  });

  it('accepts a numeric App Store id and explicit store URLs; ios, android and webUrl may be null', async () => {
    const r = await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: {
        name: 'Web only',
        ios: {
          bundleId: 'com.a.b',
          appStoreId: 987654321,
          storeUrl: 'https://apps.apple.com/us/app/x/id987654321',
        },
        android: null,
        webUrl: 'https://example.com/app',
      },
    });
    expect(r.status).toBe(201);
    expect(r.body.data.ios.appStoreId).toBe('987654321');
    expect(r.body.data.ios.storeUrl).toBe('https://apps.apple.com/us/app/x/id987654321');
    expect(r.body.data.android).toBeNull();
    expect(r.body.data.timezone).toBe('UTC');
  });

  it('updates only the given fields, merges settings, and archives', async () => {
    const { body } = await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody() });
    const id = body.data.id;
    const r = await api(t, 'PATCH', `/api/v1/apps/${id}`, {
      auth: key,
      body: {
        name: 'FitTrack Pro',
        attributionSettings: { clickWindowHours: 72 },
        sdkEnabled: false,
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.name).toBe('FitTrack Pro');
    expect(r.body.data.sdkEnabled).toBe(false);
    expect(r.body.data.attributionSettings).toEqual({
      clickWindowHours: 72,
      probabilisticEnabled: true,
      probabilisticWindowHours: 24,
      reattributionWindowDays: 90,
    });
    expect(r.body.data.timezone).toBe('America/New_York');
    expect(Date.parse(r.body.data.updatedAt)).toBeGreaterThanOrEqual(
      Date.parse(body.data.updatedAt),
    );

    const archived = await api(t, 'PATCH', `/api/v1/apps/${id}`, {
      auth: key,
      body: { archived: true },
    });
    expect(archived.body.data.archived).toBe(true);
    const listed = await api(t, 'GET', '/api/v1/apps?limit=200', { auth: key });
    expect(listed.body.data.map((a: { id: string }) => a.id)).not.toContain(id);
    const withArchived = await api(t, 'GET', '/api/v1/apps?limit=200&includeArchived=true', {
      auth: key,
    });
    expect(withArchived.body.data.map((a: { id: string }) => a.id)).toContain(id);
  });

  it('404 for an unknown app', async () => {
    const r = await api(t, 'GET', '/api/v1/apps/app_00000000000', { auth: key });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });
});

describe('Apps API: validation names the field', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['unknown field', { ...appBody(), colour: 'red' }, 'colour'],
    [
      'unknown nested field',
      { ...appBody(), ios: { bundleId: 'com.a.b', appStoreid: '1' } },
      'ios.appStoreid',
    ],
    ['bad timezone', appBody({ timezone: 'Mars/Olympus' }), 'timezone'],
    ['offset instead of a zone', appBody({ timezone: '+05:00' }), 'timezone'],
    ['bad currency', appBody({ currency: 'usd' }), 'currency'],
    ['unknown currency', appBody({ currency: 'XYZ' }), 'currency'],
    ['bad bundle id', appBody({ ios: { bundleId: 'not a bundle' } }), 'ios.bundleId'],
    [
      'non-numeric App Store id',
      appBody({ ios: { bundleId: 'com.a.b', appStoreId: 'id123' } }),
      'ios.appStoreId',
    ],
    [
      'bad package name',
      appBody({ android: { packageName: '1com.example' } }),
      'android.packageName',
    ],
    ['non-http URL', appBody({ webUrl: 'ftp://example.com' }), 'webUrl'],
    ['empty name', appBody({ name: '' }), 'name'],
    [
      'click window over 30 days',
      appBody({ attributionSettings: { clickWindowHours: 10_000 } }),
      'attributionSettings.clickWindowHours',
    ],
  ];
  for (const [what, body, field] of cases) {
    it(`${what} → 400 naming ${field}`, async () => {
      const r = await api(t, 'POST', '/api/v1/apps', { auth: key, body });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('validation_error');
      expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
      expect(r.body.error.message).toContain(field);
      expect(r.body.error.requestId).toBe(r.headers.get('x-request-id'));
    });
  }

  it('a body over the limit → 413', async () => {
    const r = await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      rawBody: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('payload_too_large');
  });

  it('a non-JSON body → 415; malformed JSON → 400', async () => {
    const form = await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      rawBody: 'name=FitTrack',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('unsupported_media_type');
    const broken = await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      rawBody: '{"name": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('validation_error');
    expect(broken.body.error.details[0].path).toBe('body');
  });

  it('an unknown query parameter and a bad limit → 400 naming them', async () => {
    const r = await api(t, 'GET', '/api/v1/apps?limt=5', { auth: key });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].path).toBe('limt');
    const big = await api(t, 'GET', '/api/v1/apps?limit=500', { auth: key });
    expect(big.status).toBe(400);
    expect(big.body.error.details[0].path).toBe('limit');
  });

  it('legacyAppId is unique within the organization: a second app of it using it → 409', async () => {
    const a = await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: appBody({ legacyAppId: 'fittrack-legacy' }),
    });
    expect(a.status).toBe(201);
    const b = await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: appBody({ legacyAppId: 'fittrack-legacy' }),
    });
    expect(b.status).toBe(409);
    expect(b.body.error.code).toBe('conflict');
  });

  it('another organization cannot squat a legacyAppId: no 409 to learn from, and no traffic', async () => {
    const sdk = (alias: string, device: string) =>
      fetch(`${t.url}/api/track/configure`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-app-id': alias },
        body: JSON.stringify({ device_id: device }),
      });
    const owner = await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: appBody({ legacyAppId: 'com.owner.legacy' }),
    });
    expect((await sdk('com.owner.legacy', 'before')).status).toBe(200);

    const squatter = await (await createOrg(t)).key('full');
    const claim = await api(t, 'POST', '/api/v1/apps', {
      auth: squatter,
      body: appBody({ legacyAppId: 'com.owner.legacy' }),
    });
    expect(claim.status).toBe(201); // the same answer whether or not the alias is taken elsewhere
    const squatted = claim.body.data.id;
    // The alias now matches neither app: the squatter gets none of the owner's traffic. Caches
    // drop the alias on a NOTIFY, which arrives just after the 201; until then the owner still
    // gets the traffic (the devices are the owner's).
    await eventually(async () => (await sdk('com.owner.legacy', 'during')).status === 401, 10_000);
    const [{ count }] = await t.sql<{ count: string }[]>`
      select count(*) from devices where app_id = ${squatted}`;
    expect(count).toBe('0');
    // The owner's app id always works, and the alias again once only one app claims it.
    expect((await sdk(owner.body.data.id, 'by-id')).status).toBe(200);
    await api(t, 'PATCH', `/api/v1/apps/${squatted}`, {
      auth: squatter,
      body: { legacyAppId: null },
    });
    await eventually(async () => (await sdk('com.owner.legacy', 'after')).status === 200, 10_000);
    const devices = await t.sql<{ device_id: string }[]>`
      select device_id from devices where app_id = ${owner.body.data.id} order by device_id`;
    expect(devices.map((d) => d.device_id).filter((d) => d !== 'during')).toEqual([
      'after',
      'before',
      'by-id',
    ]);
  });
});

describe('Apps API: keyset pagination', () => {
  let pt: TestServer;
  let pkey: string;
  beforeAll(async () => {
    pt = await startTestServer();
    const o = await createOrg(pt);
    pkey = await o.key('full');
    for (let i = 0; i < 250; i += 25) {
      await Promise.all(
        Array.from({ length: 25 }, (_, j) =>
          api(pt, 'POST', '/api/v1/apps', { auth: pkey, body: appBody({ name: `App ${i + j}` }) }),
        ),
      );
    }
  });
  afterAll(() => pt?.close());

  it('250 apps with limit=7 come back once each, newest first, ending with hasMore=false and cursor=null', async () => {
    const [{ count }] = await pt.sql<{ count: string }[]>`select count(*) from apps`;
    expect(Number(count)).toBe(250);
    const expected = (await pt.sql<{ id: string }[]>`select id from apps order by seq desc`).map(
      (r) => r.id,
    );

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    let last: any;
    do {
      const r: ApiResponse = await api(
        pt,
        'GET',
        `/api/v1/apps?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { auth: pkey },
      );
      expect(r.status).toBe(200);
      expect(r.body.data.length).toBeLessThanOrEqual(7);
      seen.push(...r.body.data.map((a: { id: string }) => a.id));
      cursor = r.body.meta.cursor;
      last = r.body.meta;
      pages++;
      if (pages === 3) {
        // Apps created while paging appear before the cursor and disturb nothing after it.
        for (let i = 0; i < 5; i++)
          await api(pt, 'POST', '/api/v1/apps', {
            auth: pkey,
            body: appBody({ name: `Late ${i}` }),
          });
      }
    } while (cursor);
    expect(pages).toBe(36);
    expect(last).toEqual({ hasMore: false, cursor: null });
    expect(seen).toEqual(expected);
  });

  it('a tampered, truncated or foreign cursor → 400, never a 500', async () => {
    const first = await api(pt, 'GET', '/api/v1/apps?limit=2', { auth: pkey });
    const cursor: string = first.body.meta.cursor;
    const [payload, sig] = cursor.split('.');
    const forged = Buffer.from(JSON.stringify(['1'])).toString('base64url');
    for (const bad of [
      `${forged}.${sig}`,
      `${payload}.${sig.slice(0, -2)}AA`,
      payload,
      'garbage',
      `${payload}x.${sig}`,
    ]) {
      const r = await api(pt, 'GET', `/api/v1/apps?limit=2&cursor=${encodeURIComponent(bad)}`, {
        auth: pkey,
      });
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('validation_error');
      expect(r.body.error.details[0].path).toBe('cursor');
    }
    // A cursor from another organization's list is foreign here.
    const other = await createOrg(pt);
    const otherKey = await other.key('full');
    const r = await api(pt, 'GET', `/api/v1/apps?limit=2&cursor=${encodeURIComponent(cursor)}`, {
      auth: otherKey,
    });
    expect(r.status).toBe(400);
  });
});
