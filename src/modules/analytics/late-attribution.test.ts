/**
 * An attribution resolved after the install, through the real path: configure with an Apple
 * AdServices token while the (fake, local) Apple server is slow, a purchase arrives, then the
 * background job stores apple_search_ads. The install and the purchase move to that network.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../../../test/helpers.ts';
import {
  createSdkApp,
  eventually,
  startAppleFake,
  track,
  APPLE_TOKEN as TOKEN,
  APPLE_ATTRIBUTED as ATTRIBUTED,
  type SdkApp,
} from '../tracking/test-support.ts';
import { addDays, todayIn } from './period.ts';

let t: TestServer;
let app: SdkApp;
let apple: Awaited<ReturnType<typeof startAppleFake>>;
beforeAll(async () => {
  apple = await startAppleFake();
  t = await startTestServer({ APPLE_ADSERVICES_URL: apple.url });
  app = await createSdkApp(t, { timezone: 'UTC' });
});
afterAll(async () => {
  await t?.close();
  await apple?.close();
});

describe('an attribution resolved later', () => {
  it('moves the install and the events already counted to the new network', async () => {
    apple.script.push({ status: 200, body: ATTRIBUTED, delayMs: 4_000 });
    apple.state.fallback = { status: 200, body: ATTRIBUTED };
    const configure = await track(t, 'configure', app.live, {
      device_id: 'asa-1',
      asa_token: TOKEN,
      device_info: { platform: 'ios' },
    });
    expect(configure.json.attribution).toBeNull(); // undetermined: Apple has not answered yet
    expect(
      (
        await track(t, 'event', app.live, {
          device_id: 'asa-1',
          event_name: 'purchase',
          revenue: 12.5,
          currency: 'USD',
        })
      ).status,
    ).toBe(200);

    const today = todayIn('UTC');
    const kpis = async (network?: string) =>
      (
        await api(
          t,
          'GET',
          `/api/v1/apps/${app.appId}/overview?from=${addDays(today, -1)}&to=${today}${network ? `&network=${network}` : ''}`,
          { auth: app.apiKey },
        )
      ).body.data.kpis;
    const total = await kpis();
    expect([total.installs, total.purchases, total.revenue.amount]).toEqual([1, 1, 12.5]);

    const asa = await eventually(async () => {
      const k = await kpis('apple_search_ads');
      return k.installs === 1 ? k : null; // resolved by the background job
    }, 45_000);
    expect([
      asa.installs,
      asa.attributedInstalls,
      asa.purchases,
      asa.revenue.amount,
      asa.payingUsers,
    ]).toEqual([1, 1, 1, 12.5, 1]);
    const after = await kpis();
    expect([
      after.installs,
      after.attributedInstalls,
      after.purchases,
      after.revenue.amount,
      after.payingUsers,
    ]).toEqual([1, 1, 1, 12.5, 1]);
    const rows = (
      await api(
        t,
        'GET',
        `/api/v1/apps/${app.appId}/stats?from=${addDays(today, -1)}&to=${today}&groupBy=network&metrics=installs,purchases`,
        { auth: app.apiKey },
      )
    ).body.data;
    expect(rows.filter((r: any) => r.metrics.installs || r.metrics.purchases)).toEqual([
      { dimensions: { network: 'apple_search_ads' }, metrics: { installs: 1, purchases: 1 } },
    ]);
  }, 60_000);
});
