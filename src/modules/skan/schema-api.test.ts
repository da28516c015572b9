import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type Org,
  type TestServer,
} from '../../../test/helpers.ts';

let t: TestServer;
let org: Org;
let key: string;
let appId: string;
beforeAll(async () => {
  t = await startTestServer({}, undefined, { jobs: false });
  org = await createOrg(t);
  key = await org.key('full');
  appId = (await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody() })).body.data.id;
});
afterAll(() => t?.close());

const skan = (id = appId) => `/api/v1/apps/${id}/skan`;

const EXAMPLE_SCHEMA = {
  version: 4,
  fine: [
    { value: 0, when: { event: 'install' } },
    { value: 8, when: { event: 'start_trial' } },
    { value: 20, when: { event: 'purchase', revenueMin: 0.01, revenueMax: 9.99 } },
  ],
  coarse: [
    { window: 0, value: 'low', when: { event: 'install' } },
    { window: 0, value: 'high', when: { event: 'purchase' } },
    { window: 1, value: 'medium', when: { event: 'start_trial' } },
  ],
  lock: [{ window: 0, when: { event: 'purchase' } }],
  campaigns: { '5239': { network: 'meta', campaign: 'summer_launch' } },
};

describe('SKAN schema API', () => {
  it('is empty at revision 0 before the first PUT, then answers what was stored', async () => {
    const before = await api(t, 'GET', skan(), { auth: key });
    expect(before.status).toBe(200);
    expect(before.body.data).toMatchObject({
      version: 4,
      revision: 0,
      currency: 'USD',
      fine: [],
      coarse: [],
      lock: [],
      campaigns: {},
      updatedAt: null,
    });
    const put = await api(t, 'PUT', skan(), { auth: key, body: EXAMPLE_SCHEMA });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ ...EXAMPLE_SCHEMA, revision: 1, currency: 'USD' });
    const after = await api(t, 'GET', skan(), { auth: key });
    expect(after.body.data).toEqual(put.body.data);
    const again = await api(t, 'PUT', skan(), { auth: key, body: { fine: [] } });
    expect(again.body.data).toMatchObject({ revision: 2, fine: [], coarse: [], campaigns: {} });
    const versions =
      await t.sql`select revision from skan_schema_versions where app_id = ${appId} order by 1`;
    expect(versions.map((v) => v.revision)).toEqual([1, 2]);
  });

  it('rejects bad schemas with a 400 naming the failing path', async () => {
    const cases: [unknown, string][] = [
      [{ fine: [{ value: 64, when: { event: 'x' } }] }, 'fine.0.value'],
      [{ fine: [{ value: -1, when: { event: 'x' } }] }, 'fine.0.value'],
      [{ fine: [{ value: 1.5, when: { event: 'x' } }] }, 'fine.0.value'],
      [{ coarse: [{ window: 0, value: 'huge', when: { event: 'x' } }] }, 'coarse.0.value'],
      [{ coarse: [{ window: 3, value: 'low', when: { event: 'x' } }] }, 'coarse.0.window'],
      [{ lock: [{ window: -1, when: { event: 'x' } }] }, 'lock.0.window'],
      [
        { fine: [{ value: 3, when: { event: 'purchase', revenueMin: 10, revenueMax: 5 } }] },
        'fine.0.when.revenueMax',
      ],
      [
        { fine: [{ value: 3, when: { event: 'purchase', revenueMin: -1 } }] },
        'fine.0.when.revenueMin',
      ],
      [
        {
          fine: [
            { value: 3, when: { event: 'purchase' } },
            { value: 3, when: { event: 'trial' } },
          ],
        },
        'fine.1.value',
      ],
      [
        {
          fine: [
            { value: 3, when: { event: 'purchase', revenueMin: 1 } },
            { value: 9, when: { event: 'purchase', revenueMin: 1 } },
          ],
        },
        'fine.1.when',
      ],
      [
        {
          coarse: [
            { window: 1, value: 'low', when: { event: 'purchase' } },
            { window: 1, value: 'high', when: { event: 'purchase' } },
          ],
        },
        'coarse.1.when',
      ],
      [
        { campaigns: { '5': { network: 'meta' }, '12345': { network: 'meta' } } },
        'campaigns.12345',
      ],
      [{ campaigns: { '0': { network: 'meta' } } }, 'campaigns.0'],
      [{ campaigns: { ab: { network: 'meta' } } }, 'campaigns.ab'],
      [{ campaigns: { '42': { campaign: 'x' } } }, 'campaigns.42.network'],
      [{ fine: [{ value: 1, when: { event: 'x', revenue: 3 } }] }, 'fine.0.when.revenue'],
      [{ version: 3 }, 'version'],
      [{ currency: 'EUR' }, 'currency'],
      [{ extra: 1 }, 'extra'],
    ];
    for (const [body, path] of cases) {
      const r = await api(t, 'PUT', skan(), { auth: key, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('validation_error');
      expect(
        r.body.error.details.map((d: { path: string }) => d.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    // The same value in different windows, a legacy campaign id and 2–4-digit identifiers are fine.
    const ok = await api(t, 'PUT', skan(), {
      auth: key,
      body: {
        currency: 'USD',
        coarse: [
          { window: 0, value: 'high', when: { event: 'purchase' } },
          { window: 1, value: 'high', when: { event: 'purchase' } },
        ],
        campaigns: {
          '7': { network: 'google' },
          '100': { network: 'tiktok' },
          '52': { network: 'meta' },
        },
      },
    });
    expect(ok.status).toBe(200);
  });

  it('is read by full and read_only keys, written by full only; analytics keys may not read it', async () => {
    const ro = await org.key('read_only');
    const an = await org.key('analytics');
    expect((await api(t, 'GET', skan(), { auth: ro })).status).toBe(200);
    expect((await api(t, 'PUT', skan(), { auth: ro, body: {} })).status).toBe(403);
    expect((await api(t, 'GET', skan(), { auth: an })).status).toBe(403);
    expect((await api(t, 'PUT', skan(), { auth: an, body: {} })).status).toBe(403);
    const other = await createOrg(t);
    expect((await api(t, 'GET', skan(), { auth: await other.key('full') })).status).toBe(404);
    expect((await api(t, 'GET', skan(), {})).status).toBe(401);
  });
});
