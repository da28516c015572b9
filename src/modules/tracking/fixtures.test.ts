/**
 * Every request of test/fixtures/sdk posted byte for byte with its manifest headers, twice
 * (manifest rules), and every answer checked against the protocol's output rules.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/helpers.ts';
import { createSdkApp, insertClick, sdkPost, startAppleFake, type SdkApp } from './test-support.ts';

const FIXTURES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/fixtures/sdk',
);
type ManifestRequest = {
  file: string;
  client: string;
  path: string;
  headers: Record<string, string>;
  key: string;
  environment: 'live' | 'sandbox';
};
const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8')) as {
  seed: { sdkKeys: Record<string, string>; optionalClick: { clickId: string } };
  requests: ManifestRequest[];
  responses: { file: string; endpoint: string }[];
};
const [liveKey, testKey] = Object.keys(manifest.seed.sdkKeys);

let t: TestServer;
let app: SdkApp;
let apple: Awaited<ReturnType<typeof startAppleFake>>;
beforeAll(async () => {
  // Apple answers "not attributed" at once, so iOS installs resolve inside the request.
  apple = await startAppleFake({ status: 200, body: { attribution: false } });
  t = await startTestServer({ APPLE_ADSERVICES_URL: apple.url });
  app = await createSdkApp(t, {}, { live: liveKey, test: testKey });
  await insertClick(t.sql, {
    id: manifest.seed.optionalClick.clickId,
    appId: app.appId,
    environment: 'sandbox',
    network: 'meta',
    utmSource: 'meta',
    utmCampaign: 'summer_launch',
    campaign: 'summer_launch',
    minutesAgo: 30,
    queryParams: {
      utm_source: 'meta',
      utm_medium: 'paid',
      utm_campaign: 'summer_launch',
      invite_code: 'K7P2QX',
    },
    linkCustomData: { screen: 'paywall', offer: 'trial7' },
  });
});
afterAll(async () => {
  await t?.close();
  await apple?.close();
});

const SCALARS = [
  'network',
  'campaign',
  'match_type',
  'attribution_id',
  'campaign_id',
  'campaign_name',
  'ad_group_id',
  'ad_id',
  'keyword',
  'fbclid',
  'gclid',
  'ttclid',
  'created_at',
];
const MAPS = ['query_params', 'customData', 'custom_data'];

/** docs/spec/sdk-protocol.md §4.7–4.9: the three top-level keys, every attribution key, the type rules. */
function expectConfigureShape(body: any) {
  expect(Object.keys(body).sort()).toEqual(['attribution', 'sdkEnabled', 'sdk_enabled']);
  expect(typeof body.sdkEnabled).toBe('boolean');
  expect(body.sdk_enabled).toBe(body.sdkEnabled);
  const a = body.attribution;
  if (a === null) return;
  expect(Object.keys(a).sort()).toEqual([...SCALARS, ...MAPS].sort());
  for (const k of SCALARS) expect(a[k] === null || typeof a[k] === 'string', k).toBe(true);
  expect(typeof a.network).toBe('string');
  expect(typeof a.match_type).toBe('string');
  expect(a.attribution_id).toMatch(/^att_/);
  expect(new Date(a.created_at).toISOString()).toBe(a.created_at);
  for (const k of MAPS) {
    expect(a[k] && typeof a[k] === 'object' && !Array.isArray(a[k])).toBe(true);
    for (const v of Object.values(a[k])) expect(typeof v).toBe('string');
  }
  expect(a.custom_data).toEqual(a.customData);
}

function expectProtocolHeaders(r: { headers: Headers }) {
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(r.headers.get('cache-control')).toBe('no-store');
}

describe('SDK fixtures, byte for byte with manifest headers', () => {
  for (const req of manifest.requests) {
    it(`${req.client}: ${req.file} → 200 twice`, async () => {
      const bytes = readFileSync(path.join(FIXTURES, req.file));
      const first = await sdkPost(t, req.path, bytes, req.headers);
      const second = await sdkPost(t, req.path, bytes, req.headers);
      for (const r of [first, second]) {
        expect(r.status, r.text).toBe(200);
        expectProtocolHeaders(r);
      }
      if (req.path.endsWith('/configure')) {
        expectConfigureShape(first.json);
        expectConfigureShape(second.json);
        expect(first.json.attribution).not.toBeNull();
        expect(second.json.attribution.attribution_id).toBe(first.json.attribution.attribution_id);
        expect(second.json).toEqual(first.json);
      } else {
        expect(first.json).toEqual({ ok: true });
        expect(second.json).toEqual({ ok: true });
      }
    });
  }

  it('stored each configure once, in the environment its key selects, with one install event each', async () => {
    const configures = manifest.requests.filter((r) => r.path.endsWith('/configure'));
    for (const req of configures) {
      const body = JSON.parse(readFileSync(path.join(FIXTURES, req.file), 'utf8'));
      const devices =
        await t.sql`select * from devices where app_id = ${app.appId} and device_id = ${body.device_id} and installed_at is not null`;
      expect(devices.map((d) => d.environment)).toEqual([req.environment]);
      const installs =
        await t.sql`select * from events where app_id = ${app.appId} and device_id = ${body.device_id} and event_name = 'install'`;
      expect(installs).toHaveLength(1);
      expect(installs[0].environment).toBe(req.environment);
      expect(installs[0].source).toBe('system');
    }
  });

  it('matched the Android installs to the seeded sandbox click, with its query params and custom data', async () => {
    const bytes = readFileSync(path.join(FIXTURES, 'requests/android-0.4.1.configure.json'));
    const req = manifest.requests.find((r) => r.file === 'requests/android-0.4.1.configure.json')!;
    const r = await sdkPost(t, req.path, bytes, req.headers);
    expect(r.json.attribution).toMatchObject({
      network: 'meta',
      match_type: 'click_id',
      campaign: 'summer_launch',
      customData: { screen: 'paywall', offer: 'trial7' },
      custom_data: { screen: 'paywall', offer: 'trial7' },
      query_params: {
        utm_source: 'meta',
        utm_medium: 'paid',
        utm_campaign: 'summer_launch',
        invite_code: 'K7P2QX',
      },
    });
    // The iOS installs had an AdServices token; Apple said "not attributed" → organic.
    const ios =
      await t.sql`select network, match_type, status from attributions where app_id = ${app.appId} and platform = 'ios'`;
    expect(ios.length).toBe(2);
    for (const a of ios)
      expect(a).toEqual({ network: 'organic', match_type: 'organic', status: 'resolved' });
    // Apple got the token byte for byte (the iOS fixture escapes '/' as '\/').
    const iosBody = JSON.parse(
      readFileSync(path.join(FIXTURES, 'requests/ios-0.4.0.configure.json'), 'utf8'),
    );
    expect(apple.received.map((x) => x.token)).toContain(iosBody.asa_token);
    expect(apple.received[0].contentType).toBe('text/plain');
  });

  it('counted each repeated event once and kept the control events out of the conversions', async () => {
    const events = await t.sql`
      select environment, device_id, event_name, is_control, revenue, currency, currency_raw, source from events
      where app_id = ${app.appId} and source <> 'system' order by seq`;
    const eventFiles = manifest.requests.filter((r) => r.path.endsWith('/event'));
    expect(events).toHaveLength(eventFiles.length);
    const flutterAndroid = events.find((e) => e.event_name === 'start_trial')!;
    expect(flutterAndroid).toMatchObject({
      revenue: '10',
      currency: 'USD',
      currency_raw: 'usd',
      is_control: false,
      environment: 'sandbox',
      source: 'sdk',
    });
    expect(events.filter((e) => e.event_name.startsWith('_')).every((e) => e.is_control)).toBe(
      true,
    );
    // iOS / Android event files use the live key for devices configured in sandbox: live stubs exist.
    const stub =
      await t.sql`select installed_at, customer_user_id, advanced_matching from devices where app_id = ${app.appId} and environment = 'live' and device_id = '9f3b2c1d4e5a6b7c'`;
    expect(stub).toHaveLength(1);
    expect(stub[0].installed_at).toBeNull();
    expect(stub[0].customer_user_id).toBe('rc_user_8842');
    expect(Object.keys(stub[0].advanced_matching).sort()).toEqual(['db', 'em', 'fn', 'ln', 'ph']);
  });
});
