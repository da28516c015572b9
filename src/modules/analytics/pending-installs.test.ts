/**
 * Issue 10, defect 10: iOS installs waiting for Apple's answer (Apple unreachable) are installs,
 * not attributed ones: a click-to-install rate of 150 % was reported. The outage is visible in
 * /readyz. Once Apple answers, the install moves to its network and counts as attributed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { enqueueJob } from '../../queue/enqueue.ts';
import {
  APPLE_ATTRIBUTED,
  APPLE_TOKEN,
  createSdkApp,
  eventually,
  insertClick,
  startAppleFake,
  track,
  type SdkApp,
} from '../tracking/test-support.ts';
import { addDays, todayIn } from './period.ts';
import { rollupVersusRaw } from './test-support.ts';

let t: TestServer;
let app: SdkApp;
let apple: Awaited<ReturnType<typeof startAppleFake>>;
beforeAll(async () => {
  apple = await startAppleFake({ status: 503, body: { error: 'down' } });
  t = await startTestServer({ APPLE_ADSERVICES_URL: apple.url });
  app = await createSdkApp(t, { timezone: 'UTC' });
});
afterAll(async () => {
  await t?.close();
  await apple?.close();
});

const today = () => todayIn('UTC');
const kpis = async (network?: string) =>
  (
    await api(
      t,
      'GET',
      `/api/v1/apps/${app.appId}/overview?from=${addDays(today(), -1)}&to=${today()}${network ? `&network=${network}` : ''}`,
      { auth: app.apiKey },
    )
  ).body.data.kpis;

describe('installs waiting for Apple', () => {
  it('count as installs, not attributed, and the outage shows in /readyz', async () => {
    // Two clicks, one of them installs through its click id; two iOS installs wait for Apple.
    const clickId = await insertClick(t.sql, { appId: app.appId, fbclid: 'fb-1', minutesAgo: 5 });
    await insertClick(t.sql, { appId: app.appId, minutesAgo: 4 });
    const byClick = await track(t, 'configure', app.live, {
      device_id: 'android-1',
      ar_click_id: clickId,
      device_info: { platform: 'android' },
    });
    expect(byClick.json.attribution).toMatchObject({ match_type: 'click_id', fbclid: 'fb-1' });
    for (const id of ['ios-1', 'ios-2']) {
      const r = await track(t, 'configure', app.live, {
        device_id: id,
        asa_token: APPLE_TOKEN,
        device_info: { platform: 'ios' },
      });
      expect(r.json.attribution).toBeNull(); // undetermined: Apple is down
    }

    const k = await kpis();
    expect({
      clicks: k.clicks,
      installs: k.installs,
      attributed: k.attributedInstalls,
      pending: k.pendingInstalls,
      organic: k.organicInstalls,
      rate: k.clickToInstallRate,
    }).toEqual({ clicks: 2, installs: 3, attributed: 1, pending: 2, organic: 0, rate: 0.5 });

    const stats = (
      await api(
        t,
        'GET',
        `/api/v1/apps/${app.appId}/stats?from=${addDays(today(), -1)}&to=${today()}&groupBy=network&metrics=installs,attributedInstalls,pendingInstalls`,
        { auth: app.apiKey },
      )
    ).body.data;
    expect(stats.find((r: any) => r.dimensions.network === 'pending')?.metrics).toEqual({
      installs: 2,
      attributedInstalls: 0,
      pendingInstalls: 2,
    });

    // Both lookups failed (Apple answered 503 to the configure's call): an operator sees it.
    const ready = (await api(t, 'GET', '/readyz')).body;
    expect(ready.status).toBe('ok');
    expect(ready.appleAdServices).toMatchObject({
      pendingLookups: 2,
      failingLookups: 2,
      lastError: 'HTTP 503',
    });
    const { rollup, raw } = await rollupVersusRaw(t.sql, app.appId);
    expect(rollup).toEqual(raw);
  }, 30_000);

  it('moves to its network once Apple answers, and counts as attributed', async () => {
    apple.state.fallback = { status: 200, body: APPLE_ATTRIBUTED };
    // Run the waiting lookups now instead of after their back-off.
    const ids = await t.sql<{ attribution_id: string }[]>`
      select attribution_id from asa_resolutions where state = 'pending'`;
    for (const { attribution_id } of ids)
      await enqueueJob(
        t.sql,
        'asa_resolve',
        { attributionId: attribution_id },
        { jobKey: `asa:${attribution_id}` },
      );
    const k = await eventually(async () => {
      const x = await kpis();
      return x.pendingInstalls === 0 ? x : null;
    }, 30_000);
    expect([k.installs, k.attributedInstalls, k.pendingInstalls, k.organicInstalls]).toEqual([
      3, 3, 0, 0,
    ]);
    expect((await kpis('apple_search_ads')).attributedInstalls).toBe(2);
    const ready = (await api(t, 'GET', '/readyz')).body;
    expect(ready.appleAdServices).toMatchObject({ pendingLookups: 0, failingLookups: 0 });
    const { rollup, raw } = await rollupVersusRaw(t.sql, app.appId);
    expect(rollup).toEqual(raw);
  }, 45_000);
});
