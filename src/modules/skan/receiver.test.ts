import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type TestServer,
} from '../../../test/helpers.ts';
import * as V from './apple-vectors.ts';

let t: TestServer;
let dev: TestServer;
beforeAll(async () => {
  [t, dev] = await Promise.all([
    startTestServer({}, undefined, { jobs: false }),
    startTestServer({ SKAN_ALLOW_DEVELOPMENT_KEYS: 'true' }, undefined, { jobs: false }),
  ]);
});
afterAll(() => Promise.all([t?.close(), dev?.close()]));

const post = (s: TestServer, path: string, body: string, contentType = 'application/json') =>
  fetch(s.url + path, { method: 'POST', body, headers: { 'content-type': contentType } });

const rowsOf = (s: TestServer, key: string) =>
  s.sql`select kind, verified, unverified_reason, key_id, sandbox, app_store_id, version, window_index,
          fine_value, coarse_value, source_identifier, campaign_id, did_win, redownload, raw
        from skan_postbacks where dedup_key = ${key}`;

const PATHS = [
  '/.well-known/skadnetwork/report-attribution/',
  '/.well-known/skadnetwork/report-attribution',
  '/api/skan/postback',
  '/api/skan/postback/',
  '/.well-known/appattribution/report-attribution/',
  '/.well-known/appattribution/report-attribution',
];

describe('postback receivers', () => {
  it("stores Apple's SKAdNetwork vectors verified at every receiver path, once per transaction id", async () => {
    for (const path of PATHS) {
      for (const v of [V.SKAN_4_0_FINE, V.SKAN_4_0_COARSE, V.SKAN_3_0_WIN, V.SKAN_2_2]) {
        const r = await post(t, path, v);
        expect(r.status, path).toBe(200);
        expect(await r.json()).toEqual({ status: 'received' });
      }
    }
    const fine = await rowsOf(t, '6aafb7a5-0170-41b5-bbe4-fe71dedf1e30');
    expect(fine).toHaveLength(1);
    expect(fine[0]).toMatchObject({
      kind: 'skadnetwork',
      verified: true,
      unverified_reason: null,
      key_id: 'p256',
      sandbox: false,
      app_store_id: '525463029',
      version: '4.0',
      window_index: 0,
      fine_value: 63,
      coarse_value: null,
      source_identifier: '5239',
    });
    expect(fine[0].raw).toEqual(JSON.parse(V.SKAN_4_0_FINE));
    expect((await rowsOf(t, '6aafb7a5-0170-41b5-bbe4-fe71dedf1e31'))[0]).toMatchObject({
      verified: true,
      coarse_value: 'high',
      source_identifier: '39',
    });
    // 3.0 and 2.2 share a transaction id in Apple's examples: one row, the first received.
    const legacy = await rowsOf(t, '6aafb7a5-0170-41b5-bbe4-fe71dedf1e28');
    expect(legacy).toHaveLength(1);
    expect(legacy[0]).toMatchObject({
      verified: true,
      campaign_id: 42,
      fine_value: 20,
      version: '3.0',
    });
  });

  it('stores a postback with one signed character changed as unverified, and still answers 200', async () => {
    const forged = V.SKAN_3_0_LOSE.replace('"campaign-id":42', '"campaign-id":43');
    expect(forged).not.toBe(V.SKAN_3_0_LOSE);
    const r = await post(t, '/api/skan/postback', forged);
    expect(r.status).toBe(200);
    const [row] = await rowsOf(t, 'f9ac267a-a889-44ce-b5f7-0166d11461f0');
    expect(row).toMatchObject({
      verified: false,
      unverified_reason: 'bad_signature',
      campaign_id: 43,
    });
    // Apple's genuine copy arriving later replaces the forged one; a forged one never replaces a verified one.
    await post(t, '/api/skan/postback', V.SKAN_3_0_LOSE);
    await post(t, '/api/skan/postback', forged);
    const after = await rowsOf(t, 'f9ac267a-a889-44ce-b5f7-0166d11461f0');
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ verified: true, campaign_id: 42, did_win: false });
  });

  it('answers 200 to any JSON, storing it unverified with the reason, and 400 only to non-JSON', async () => {
    for (const [body, reason] of [
      ['[1,2]', 'not_an_object'],
      ['{"transaction-id":"tx-no-sig","app-id":"12"}', 'missing_signature'],
      [
        '{"version":"7.1","transaction-id":"tx-v7","attribution-signature":"AA=="}',
        'unsupported_version',
      ],
      ['{"transaction-id":"tx-nul\\u0000","app-id":{"a":1}}', 'missing_signature'],
      ['{"transaction-id":"tx-\\ud800","\\udc00":"\\ud83d"}', 'missing_signature'],
    ] as const) {
      const r = await post(t, '/.well-known/skadnetwork/report-attribution/', body, 'text/plain');
      expect(r.status, body).toBe(200);
      const [row] =
        await t.sql`select verified, unverified_reason from skan_postbacks order by seq desc limit 1`;
      expect(row, body).toEqual({ verified: false, unverified_reason: reason });
    }
    for (const body of ['', 'not json', '{"a":', '\u00ff\u00fe']) {
      const r = await post(t, '/api/skan/postback', body);
      expect(r.status, body).toBe(400);
      expect((await r.json()).error.code).toBe('invalid_json');
    }
    const big = JSON.stringify({ pad: 'x'.repeat(70_000) });
    expect((await post(t, '/api/skan/postback', big)).status).toBe(413);
  });

  it('stores the AdAttributionKit vector unverified unless development keys are allowed, then verified and sandbox', async () => {
    const key = '85546EB7-FD39-44BC-8990-C98A4AC36A49';
    expect(
      (await post(t, '/.well-known/appattribution/report-attribution/', V.AAK_DEV_REENGAGEMENT))
        .status,
    ).toBe(200);
    expect((await rowsOf(t, key))[0]).toMatchObject({
      kind: 'adattributionkit',
      verified: false,
      unverified_reason: 'development_key_not_allowed',
      sandbox: true,
    });
    for (let i = 0; i < 2; i++)
      expect(
        (await post(dev, '/.well-known/appattribution/report-attribution', V.AAK_DEV_REENGAGEMENT))
          .status,
      ).toBe(200);
    const rows = await rowsOf(dev, key);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      kind: 'adattributionkit',
      verified: true,
      key_id: 'apple-development-identifier/1',
      sandbox: true,
      app_store_id: '10738027756',
      source_identifier: '1234',
      fine_value: 24,
      window_index: 0,
      did_win: true,
      redownload: false,
    });
  });

  it('lists a development-key postback as sandbox and never counts it in SKAN stats', async () => {
    const org = await createOrg(dev);
    const key = await org.key('analytics');
    const full = await org.key('full');
    const appId = (
      await api(dev, 'POST', '/api/v1/apps', {
        auth: full,
        body: appBody({ ios: { bundleId: 'com.example.aak', appStoreId: '10738027756' } }),
      })
    ).body.data.id;
    await post(dev, '/.well-known/appattribution/report-attribution/', V.AAK_DEV_REENGAGEMENT);
    const list = await api(dev, 'GET', `/api/v1/apps/${appId}/skan/postbacks`, { auth: key });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({
      kind: 'adattributionkit',
      verified: true,
      sandbox: true,
      transactionId: '85546EB7-FD39-44BC-8990-C98A4AC36A49',
      conversionType: 're-engagement',
      countryCode: 'US',
      fineValue: 24,
    });
    for (const q of ['', '&verified=any']) {
      const s = await api(dev, 'GET', `/api/v1/apps/${appId}/skan/stats?groupBy=network${q}`, {
        auth: key,
      });
      expect(s.status).toBe(200);
      expect(s.body.data, q).toEqual([]);
    }
    // The same body as a live (non-development) postback would count: flip the flag to prove the filter.
    await dev.sql`update skan_postbacks set sandbox = false where kind = 'adattributionkit'`;
    const live = await api(dev, 'GET', `/api/v1/apps/${appId}/skan/stats?groupBy=network`, {
      auth: key,
    });
    expect(live.body.data[0].metrics.postbacks).toBe(1);
  });

  it('keeps its receivers out of /api/v1 and answers other methods as the router does', async () => {
    const r = await fetch(`${t.url}/api/skan/postback`);
    expect([404, 405]).toContain(r.status);
  });
});

describe('OpenAPI document', () => {
  it('documents the receivers and /api/track/skan', async () => {
    const doc = await (await fetch(`${t.url}/openapi.json`)).json();
    for (const p of [
      '/.well-known/skadnetwork/report-attribution/',
      '/api/skan/postback',
      '/.well-known/appattribution/report-attribution/',
    ])
      expect(Object.keys(doc.paths[p].post.responses), p).toEqual(['200', '400', '413', '503']);
    expect(Object.keys(doc.paths['/api/track/skan'])).toEqual(['get', 'post']);
    expect(doc.components.schemas.SkanSchema).toBeDefined();
  });
});
