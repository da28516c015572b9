import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type Org,
  type TestServer,
} from '../../../test/helpers.ts';
import * as V from './apple-vectors.ts';

let t: TestServer;
let org: Org;
let key: string;
let appId: string;
const STORE_ID = '525463029'; // the app-id of Apple's examples

const post = (body: string, path = '/.well-known/skadnetwork/report-attribution/') =>
  fetch(t.url + path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

const SCHEMA = {
  fine: [
    { value: 20, when: { event: 'start_trial' } },
    { value: 63, when: { event: 'purchase', revenueMin: 50, revenueMax: 100 } },
  ],
  coarse: [
    { window: 0, value: 'high', when: { event: 'purchase' } },
    { window: 2, value: 'medium', when: { event: 'subscribe', revenueMin: 5, revenueMax: 10 } },
  ],
  campaigns: {
    '52': { network: 'google', campaign: 'two_digit' },
    '5239': { network: 'meta', campaign: 'summer_launch' },
    '39': { network: 'tiktok', campaign: 'spring' },
    '42': { network: 'apple_search_ads', campaign: 'legacy' },
  },
};

beforeAll(async () => {
  t = await startTestServer({}, undefined, { jobs: false });
  org = await createOrg(t);
  key = await org.key('full');
  appId = (
    await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: appBody({ ios: { bundleId: 'com.example.skan', appStoreId: STORE_ID } }),
    })
  ).body.data.id;
  expect(
    (await api(t, 'PUT', `/api/v1/apps/${appId}/skan`, { auth: key, body: SCHEMA })).status,
  ).toBe(200);
  // The schema's first revision predates every install below.
  await t.sql`update skan_schema_versions set valid_from = now() - interval '60 days' where app_id = ${appId}`;
  for (const v of [V.SKAN_4_0_FINE, V.SKAN_4_0_COARSE, V.SKAN_3_0_WIN, V.SKAN_2_2, V.SKAN_3_0_LOSE])
    expect((await post(v)).status).toBe(200);
  // Unverified (unsigned) and sandbox (source app id 0) postbacks of the same app.
  await post(
    JSON.stringify({
      version: '4.0',
      'app-id': 525463029,
      'transaction-id': 'unsigned-1',
      'source-identifier': '5239',
      'postback-sequence-index': 0,
      redownload: false,
      'conversion-value': 20,
    }),
  );
  await post(
    JSON.stringify({
      version: '4.0',
      'app-id': 525463029,
      'transaction-id': 'sandbox-1',
      'source-identifier': '5239',
      'source-app-id': 0,
      'postback-sequence-index': 0,
      redownload: false,
      'conversion-value': 0,
    }),
    '/api/skan/postback',
  );
});
afterAll(() => t?.close());

const postbacks = (q = '') =>
  api(t, 'GET', `/api/v1/apps/${appId}/skan/postbacks${q}`, { auth: key });
const stats = (q = '') => api(t, 'GET', `/api/v1/apps/${appId}/skan/stats${q}`, { auth: key });

describe('SKAN postbacks API', () => {
  it('lists the app’s postbacks newest first, mapped to network and campaign and decoded', async () => {
    const r = await postbacks();
    expect(r.status).toBe(200);
    const ids = r.body.data.map((p: { transactionId: string }) => p.transactionId);
    expect(ids).toEqual([
      'sandbox-1',
      'unsigned-1',
      'f9ac267a-a889-44ce-b5f7-0166d11461f0',
      '6aafb7a5-0170-41b5-bbe4-fe71dedf1e28',
      '6aafb7a5-0170-41b5-bbe4-fe71dedf1e31',
      '6aafb7a5-0170-41b5-bbe4-fe71dedf1e30',
    ]);
    const byId = Object.fromEntries(
      r.body.data.map((p: { transactionId: string }) => [p.transactionId, p]),
    );
    expect(byId['6aafb7a5-0170-41b5-bbe4-fe71dedf1e30']).toMatchObject({
      kind: 'skadnetwork',
      version: '4.0',
      verified: true,
      unverifiedReason: null,
      sandbox: false,
      adNetworkId: 'com.example',
      sourceIdentifier: '5239',
      network: 'meta',
      campaign: 'summer_launch',
      sourceDomain: 'example.com',
      redownload: false,
      fidelityType: 1,
      didWin: true,
      window: 0,
      fineValue: 63,
      coarseValue: null,
      decoded: { events: ['purchase'], revenueMin: 50, revenueMax: 100, schemaRevision: 1 },
    });
    expect(byId['6aafb7a5-0170-41b5-bbe4-fe71dedf1e31']).toMatchObject({
      sourceIdentifier: '39',
      network: 'tiktok',
      coarseValue: 'high',
      decoded: { events: ['purchase'], revenueMin: null, revenueMax: null },
    });
    expect(byId['6aafb7a5-0170-41b5-bbe4-fe71dedf1e28']).toMatchObject({
      campaignId: 42,
      network: 'apple_search_ads',
      campaign: 'legacy',
      decoded: { events: ['start_trial'] },
    });
    expect(byId['unsigned-1']).toMatchObject({
      verified: false,
      unverifiedReason: 'missing_signature',
    });
    expect(byId['sandbox-1']).toMatchObject({ sandbox: true, sourceAppId: '0' });
    expect(byId['f9ac267a-a889-44ce-b5f7-0166d11461f0'].raw).toEqual(JSON.parse(V.SKAN_3_0_LOSE));
  });

  it('filters by verified and window, and pages with a cursor bound to the list', async () => {
    expect(
      (await postbacks('?verified=false')).body.data.map((p: { verified: boolean }) => p.verified),
    ).toEqual([false, false]);
    expect((await postbacks('?window=1')).body.data).toEqual([]);
    const p1 = await postbacks('?limit=4');
    expect(p1.body.data).toHaveLength(4);
    expect(p1.body.meta.hasMore).toBe(true);
    const p2 = await postbacks(`?limit=4&cursor=${p1.body.meta.cursor}`);
    expect(p2.body.data).toHaveLength(2);
    expect(p2.body.meta).toEqual({ hasMore: false, cursor: null });
    const foreign = await postbacks(`?limit=4&verified=true&cursor=${p1.body.meta.cursor}`);
    expect(foreign.status).toBe(400);
    for (const [q, path] of [
      ['?window=3', 'window'],
      ['?from=2026-02-30', 'from'],
      ['?verified=yes', 'verified'],
      ['?x=1', 'x'],
    ]) {
      const r = await postbacks(q);
      expect(r.status, q).toBe(400);
      expect(
        r.body.error.details.map((d: { path: string }) => d.path),
        q,
      ).toContain(path);
    }
  });

  it('decodes with the schema revision in force when the install happened', async () => {
    // Revision 2, saved 10 days ago, gives value 63 and the window-2 "medium" another meaning.
    const body = {
      ...SCHEMA,
      fine: [{ value: 63, when: { event: 'subscribe', revenueMin: 200 } }],
      coarse: [{ window: 2, value: 'medium', when: { event: 'renewal' } }],
    };
    expect((await api(t, 'PUT', `/api/v1/apps/${appId}/skan`, { auth: key, body })).status).toBe(
      200,
    );
    await t.sql`update skan_schema_versions set valid_from = now() - interval '10 days' where app_id = ${appId} and revision = 2`;
    // A window-2 postback arriving now was installed ~38 days ago, under revision 1.
    await post(
      JSON.stringify({
        version: '4.0',
        'app-id': 525463029,
        'transaction-id': 'late-window',
        'source-identifier': '5201',
        'postback-sequence-index': 2,
        'coarse-conversion-value': 'medium',
      }),
    );
    const r = await postbacks('?verified=false&limit=1');
    expect(r.body.data[0]).toMatchObject({
      transactionId: 'late-window',
      window: 2,
      network: 'google', // longest known prefix of 5201: "52"
      decoded: { events: ['subscribe'], revenueMin: 5, revenueMax: 10, schemaRevision: 1 },
    });
    // A first-window postback arriving now was installed ~3.5 days ago, under revision 2.
    await post(
      JSON.stringify({
        version: '4.0',
        'app-id': 525463029,
        'transaction-id': 'fresh',
        'source-identifier': '5239',
        'postback-sequence-index': 0,
        'conversion-value': 63,
      }),
    );
    expect((await postbacks('?verified=false&limit=1')).body.data[0]).toMatchObject({
      transactionId: 'fresh',
      decoded: { events: ['subscribe'], revenueMin: 200, revenueMax: null, schemaRevision: 2 },
    });
    // Apple's fine vector (window 0) now also decodes with revision 2, and keeps its campaign.
    const apple = (await postbacks('?verified=true')).body.data.find(
      (p: { transactionId: string }) => p.transactionId === '6aafb7a5-0170-41b5-bbe4-fe71dedf1e30',
    );
    expect(apple.decoded.schemaRevision).toBe(2);
    await t.sql`delete from skan_schema_versions where app_id = ${appId} and revision = 2`;
    await t.sql`delete from skan_postbacks where dedup_key in ('late-window', 'fresh')`;
  });

  it('keeps postbacks of an unknown app, lists them nowhere, and shows them once the app exists', async () => {
    const unknown = JSON.stringify({
      version: '4.0',
      'app-id': 777000111,
      'transaction-id': 'future-app',
      'postback-sequence-index': 0,
    });
    expect((await post(unknown)).status).toBe(200);
    expect(
      (await postbacks()).body.data.some(
        (p: { transactionId: string }) => p.transactionId === 'future-app',
      ),
    ).toBe(false);
    const later = (
      await api(t, 'POST', '/api/v1/apps', {
        auth: key,
        body: appBody({ ios: { bundleId: 'com.example.later', appStoreId: '777000111' } }),
      })
    ).body.data.id;
    const r = await api(t, 'GET', `/api/v1/apps/${later}/skan/postbacks`, { auth: key });
    expect(r.body.data.map((p: { transactionId: string }) => p.transactionId)).toEqual([
      'future-app',
    ]);
    // A second app claiming the same App Store id (another organization) does not take them over.
    const other = await createOrg(t);
    const otherKey = await other.key('full');
    const copy = (
      await api(t, 'POST', '/api/v1/apps', {
        auth: otherKey,
        body: appBody({ ios: { bundleId: 'com.example.later', appStoreId: '777000111' } }),
      })
    ).body.data.id;
    expect(
      (await api(t, 'GET', `/api/v1/apps/${copy}/skan/postbacks`, { auth: otherKey })).body.data,
    ).toEqual([]);
    expect(
      (await api(t, 'GET', `/api/v1/apps/${later}/skan/postbacks`, { auth: otherKey })).status,
    ).toBe(404);
  });

  it('lets analytics and read-only keys read postbacks and stats', async () => {
    for (const p of ['analytics', 'read_only'] as const) {
      const k = await org.key(p);
      expect(
        (await api(t, 'GET', `/api/v1/apps/${appId}/skan/postbacks`, { auth: k })).status,
      ).toBe(200);
      expect((await api(t, 'GET', `/api/v1/apps/${appId}/skan/stats`, { auth: k })).status).toBe(
        200,
      );
    }
  });
});

describe('SKAN stats', () => {
  it('counts verified live postbacks by network: installs, redownloads, conversions, revenue ranges', async () => {
    const r = await stats('?groupBy=network');
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual([
      {
        dimensions: { network: 'apple_search_ads' },
        metrics: {
          postbacks: 1,
          installs: 0,
          redownloads: 1,
          conversions: 1,
          revenueMin: 0,
          revenueMax: 0,
        },
      },
      {
        dimensions: { network: 'meta' },
        metrics: {
          postbacks: 1,
          installs: 1,
          redownloads: 0,
          conversions: 1,
          revenueMin: 50,
          revenueMax: 100,
        },
      },
      {
        dimensions: { network: 'tiktok' },
        metrics: {
          postbacks: 1,
          installs: 1,
          redownloads: 0,
          conversions: 1,
          revenueMin: 0,
          revenueMax: 0,
        },
      },
    ]);
  });

  it('adds unverified postbacks with verified=any, never sandbox or losing ones', async () => {
    const r = await stats('?groupBy=window,fineValue&verified=any');
    expect(r.body.data).toEqual([
      {
        dimensions: { window: 0, fineValue: 20 },
        metrics: {
          postbacks: 2,
          installs: 1,
          redownloads: 1,
          conversions: 2,
          revenueMin: 0,
          revenueMax: 0,
        },
      },
      {
        dimensions: { window: 0, fineValue: 63 },
        metrics: {
          postbacks: 1,
          installs: 1,
          redownloads: 0,
          conversions: 1,
          revenueMin: 50,
          revenueMax: 100,
        },
      },
      {
        dimensions: { window: 0, fineValue: null },
        metrics: {
          postbacks: 1,
          installs: 1,
          redownloads: 0,
          conversions: 1,
          revenueMin: 0,
          revenueMax: 0,
        },
      },
    ]);
  });

  it('groups by date in the app’s time zone and by source identifier; refuses unknown dimensions', async () => {
    const r = await stats('?groupBy=date,sourceIdentifier&from=2020-01-01&to=2999-12-31');
    expect(r.status).toBe(400); // more than 400 days
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(
      new Date(),
    );
    const d = await stats('?groupBy=date,sourceIdentifier');
    expect(d.body.data.map((x: { dimensions: object }) => x.dimensions)).toEqual([
      { date: today, sourceIdentifier: '39' },
      { date: today, sourceIdentifier: '42' },
      { date: today, sourceIdentifier: '5239' },
    ]);
    const bad = await stats('?groupBy=country');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toMatch(/^groupBy/);
  });

  it('stays apart from click attribution: postbacks add no install to the analytics overview', async () => {
    const o = await api(t, 'GET', `/api/v1/apps/${appId}/overview`, { auth: key });
    expect(o.status).toBe(200);
    expect(o.body.data.kpis.installs).toBe(0);
    const [{ n }] = await t.sql`select count(*)::int as n from attributions`;
    expect(n).toBe(0);
  });
});
