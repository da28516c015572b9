/**
 * Conversion forwarding end to end: SDK installs and events of attributed devices reach fake Meta,
 * Google and TikTok servers (docs/spec/external-apis.md §9) with the exact bodies of §1–3; every error class
 * ends as the spec says; the audit log and its retry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { createSdkApp, insertClick, track, type SdkApp } from '../tracking/test-support.ts';
import { randomBase62 } from '../../lib/crypto.ts';
import { googleError, googleFake, metaFake, tiktokFake, type Fake } from './test-support.ts';

let t: TestServer;
let meta: Fake;
let google: Fake;
let tiktok: Fake;

beforeAll(async () => {
  [meta, google, tiktok] = await Promise.all([metaFake(), googleFake(), tiktokFake()]);
  t = await startTestServer({
    META_GRAPH_URL: `${meta.url}v24.0/`,
    TIKTOK_API_URL: `${tiktok.url}open_api/v1.3/`,
    GOOGLE_ADS_API_URL: google.url,
    GOOGLE_OAUTH_TOKEN_URL: `${google.url}token`,
    FORWARD_RETRY_BASE_SECONDS: '1',
    FORWARD_TIMEOUT_SECONDS: '1',
  });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([meta?.close(), google?.close(), tiktok?.close()]);
});

const DEVICE_INFO = {
  platform: 'ios',
  app_version: '2.3.0',
  app_build: 145,
  os_version: '17.5.1',
  model: 'iPhone14,2',
  locale: 'en_US',
  timezone: 'Europe/Berlin',
};
const APP_UA = 'FitTrack/145 CFNetwork/1494.0.7 Darwin/23.4.0';
const IDFA = '6D92078A-8246-4BA4-AE5B-76104861E7DC';

type Clicks = { fbclid?: string; gclid?: string; ttclid?: string; network: string };

/** A device installed from a click of `network` (configure with ar_click_id); returns its id. */
async function attributedDevice(app: SdkApp, c: Clicks, env: 'live' | 'sandbox' = 'live') {
  const clickId = await insertClick(t.sql, {
    appId: app.appId,
    linkId: `lnk-${c.network}-${app.appId}`,
    network: c.network,
    fbclid: c.fbclid ?? null,
    gclid: c.gclid ?? null,
    ttclid: c.ttclid ?? null,
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (iPhone)',
    environment: env,
  });
  const deviceId = `dev-${randomBase62(10)}`;
  const r = await track(
    t,
    'configure',
    env === 'live' ? app.live : app.test,
    {
      device_id: deviceId,
      ar_click_id: clickId,
      idfa: IDFA,
      device_info: DEVICE_INFO,
    },
    { 'user-agent': APP_UA },
  );
  expect(r.status).toBe(200);
  return deviceId;
}

async function configureMeta(app: SdkApp, over: Record<string, unknown> = {}) {
  const r = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/meta`, {
    auth: app.apiKey,
    body: {
      enabled: true,
      settings: { datasetId: '1234567890123456', accessToken: 'EAAB-meta-token-9f2c' },
      ...over,
    },
  });
  expect(r.status).toBe(200);
  return r.body.data;
}

async function deliveriesOf(app: SdkApp, query = '') {
  const r = await api(t, 'GET', `/api/v1/apps/${app.appId}/integrations/deliveries${query}`, {
    auth: app.apiKey,
  });
  expect(r.status).toBe(200);
  return r.body.data as any[];
}

/** Waits until the app's deliveries for `network` match `pred`. */
async function waitFor(app: SdkApp, pred: (ds: any[]) => boolean, ms = 20_000) {
  return eventually(async () => {
    const ds = await deliveriesOf(app);
    return pred(ds) ? ds : null;
  }, ms);
}

const receivedFor = (fake: Fake, forwardId: string) =>
  fake.received.filter((r) => JSON.stringify(r.body).includes(forwardId));

describe('integration settings', () => {
  it('secrets are write-only, encrypted at rest, and merged on PATCH; null clears a field', async () => {
    const app = await createSdkApp(t);
    const before = await api(t, 'GET', `/api/v1/apps/${app.appId}/integrations`, {
      auth: app.apiKey,
    });
    expect(before.status).toBe(200);
    expect(before.body.data.meta).toMatchObject({
      network: 'meta',
      enabled: false,
      status: 'not_configured',
      settings: { datasetId: null, accessToken: { set: false, last4: null } },
      eventMapping: { install: 'Lead', purchase: 'Purchase', qualified_trial: 'StartTrial' },
    });
    expect(before.body.data.google.eventMapping.install).toBe('install');

    const data = await configureMeta(app);
    expect(data).toMatchObject({
      enabled: true,
      status: 'ok',
      settings: {
        datasetId: '1234567890123456',
        accessToken: { set: true, last4: '9f2c' },
        testEventCode: null,
      },
    });
    const [row] =
      await t.sql`select secrets::text as s from integrations where app_id = ${app.appId}`;
    expect(row.s).not.toContain('EAAB-meta-token');

    const cleared = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/meta`, {
      auth: app.apiKey,
      body: {
        settings: { accessToken: null },
        eventMapping: { install: null, level_complete: 'AchieveLevel' },
      },
    });
    expect(cleared.body.data).toMatchObject({
      status: 'not_configured',
      settings: { datasetId: '1234567890123456', accessToken: { set: false, last4: null } },
      eventMapping: { install: null, level_complete: 'AchieveLevel', purchase: 'Purchase' },
    });
  });

  it('bad input is a 400 naming the field; analytics keys cannot read settings, read-only keys cannot change them', async () => {
    const app = await createSdkApp(t);
    const bad = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/google`, {
      auth: app.apiKey,
      body: { settings: { customerId: '12-34', tokenn: 'x' } },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error.details)).toMatch(/customerId|tokenn/);

    const [{ org_id: orgId }] = await t.sql`select org_id from apps where id = ${app.appId}`;
    const { createApiKey } = await import('../api-keys/keys.ts');
    const mint = async (permission: 'analytics' | 'read_only') =>
      (
        await createApiKey(t.sql, {
          orgId,
          name: permission,
          permission,
          appIds: null,
          createdBy: null as never,
        })
      ).key;
    const analytics = await mint('analytics');
    const readOnly = await mint('read_only');
    for (const path of ['integrations', 'integrations/meta', 'integrations/deliveries'])
      expect(
        (await api(t, 'GET', `/api/v1/apps/${app.appId}/${path}`, { auth: analytics })).status,
      ).toBe(403);
    expect(
      (await api(t, 'GET', `/api/v1/apps/${app.appId}/integrations/meta`, { auth: readOnly }))
        .status,
    ).toBe(200);
    expect(
      (
        await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/meta`, {
          auth: readOnly,
          body: { enabled: true },
        })
      ).status,
    ).toBe(403);
  });
});

describe('Meta Conversions API', () => {
  it('an attributed install and a purchase reach Meta with the exact body; secrets never stored with the delivery', async () => {
    const app = await createSdkApp(t);
    await configureMeta(app);
    const fbclid = `IwAR2F4-${randomBase62(20)}`;
    const deviceId = await attributedDevice(app, { network: 'meta', fbclid });
    await t.sql`update devices set advanced_matching = ${t.sql.json({ em: '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f' })} where device_id = ${deviceId}`;
    expect(
      (
        await track(t, 'event', app.live, {
          device_id: deviceId,
          event_name: 'purchase',
          revenue: 9.99,
          currency: 'USD',
        })
      ).status,
    ).toBe(200);

    const ds = await waitFor(
      app,
      (d) => d.length === 2 && d.every((x) => x.status === 'delivered'),
    );
    const [purchase, install] = ds;
    expect(install).toMatchObject({
      network: 'meta',
      eventName: 'install',
      networkEventName: 'Lead',
      attempts: 1,
      httpStatus: 200,
    });
    expect(purchase).toMatchObject({ eventName: 'purchase', networkEventName: 'Purchase' });
    expect(purchase.forwardId).toMatch(/^fwd_meta_/);

    const [click] = await t.sql`select clicked_at from clicks where fbclid = ${fbclid}`;
    const [ev] = await t.sql`select received_at from events where id = ${purchase.eventId}`;
    const [got] = receivedFor(meta, purchase.forwardId);
    expect(got.method).toBe('POST');
    expect(got.path).toBe('/v24.0/1234567890123456/events');
    expect(Object.keys(got.body).sort()).toEqual(['access_token', 'data']);
    expect(got.body.access_token).toBe('EAAB-meta-token-9f2c');
    const sent = got.body.data.find((e: { event_id: string }) => e.event_id === purchase.forwardId);
    expect(sent).toEqual({
      event_name: 'Purchase',
      event_time: Math.floor(ev.received_at.getTime() / 1000),
      action_source: 'app',
      event_id: purchase.forwardId,
      user_data: {
        fbc: `fb.1.${click.clicked_at.getTime()}.${fbclid}`,
        client_ip_address: '203.0.113.7',
        client_user_agent: APP_UA,
        em: ['62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f'],
        external_id: [expect.stringMatching(/^[0-9a-f]{64}$/)],
        madid: IDFA,
      },
      custom_data: { value: 9.99, currency: 'USD' },
      app_data: {
        advertiser_tracking_enabled: true,
        application_tracking_enabled: true,
        extinfo: [
          'i2',
          'com.example.fittrack',
          '2.3.0',
          '2.3.0 (145)',
          '17.5.1',
          'iPhone14,2',
          'en_US',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          'Europe/Berlin',
        ],
      },
    });
    // The stored request is what was sent for this delivery, minus the token.
    expect(purchase.request).toEqual({ data: [sent] });
    const [stored] =
      await t.sql`select count(*)::int as n from deliveries where request::text like '%meta-token%' or response::text like '%meta-token%'`;
    expect(stored.n).toBe(0);
  });

  it('sandbox events, unmapped events and organic devices are not sent; the reason is recorded', async () => {
    const app = await createSdkApp(t);
    await configureMeta(app, { eventMapping: { tutorial_complete: null } });
    const live = await attributedDevice(app, {
      network: 'meta',
      fbclid: `IwAR-${randomBase62(12)}`,
    });
    await attributedDevice(app, { network: 'meta', fbclid: `IwAR-${randomBase62(12)}` }, 'sandbox');
    const organic = `dev-${randomBase62(8)}`;
    await track(t, 'configure', app.live, { device_id: organic, device_info: DEVICE_INFO });
    await track(t, 'event', app.live, { device_id: organic, event_name: 'purchase', revenue: 1 });
    await track(t, 'event', app.live, { device_id: live, event_name: 'tutorial_complete' });
    await track(t, 'event', app.live, { device_id: live, event_name: 'level_complete' });

    const ds = await waitFor(
      app,
      (d) => d.length === 4 && d.filter((x) => x.status === 'delivered').length === 2,
    );
    const by = Object.fromEntries(ds.map((d) => [`${d.eventName}:${d.status}`, d]));
    expect(Object.keys(by).sort()).toEqual([
      'install:delivered',
      'install:skipped',
      'level_complete:delivered',
      'tutorial_complete:skipped',
    ]);
    expect(by['install:skipped'].error).toMatch(/sandbox/);
    expect(by['tutorial_complete:skipped'].error).toBe('event not mapped');
    expect(by['level_complete:delivered'].networkEventName).toBe('level_complete'); // custom: unchanged
  });

  it('error classes: transient → retried with the same event_id; rate limit → later; token error → paused until new credentials; invalid parameter → failed', async () => {
    const app = await createSdkApp(t);
    await configureMeta(app);
    meta.script('/1234567890123456/events', {
      status: 500,
      body: {
        error: {
          message: 'Service temporarily unavailable',
          type: 'OAuthException',
          code: 2,
          is_transient: true,
        },
      },
    });
    const d1 = await attributedDevice(app, { network: 'meta', fbclid: `IwAR-${randomBase62(12)}` });
    let [install] = await waitFor(app, (d) => d[0]?.status === 'delivered');
    expect(install.attempts).toBe(2);
    expect(receivedFor(meta, install.forwardId)).toHaveLength(2);
    expect(receivedFor(meta, install.forwardId).map((r) => r.body.data[0].event_id)).toEqual([
      install.forwardId,
      install.forwardId,
    ]);

    // Rate limited: retried after minutes, not seconds.
    meta.script('/1234567890123456/events', {
      status: 400,
      body: { error: { message: 'User request limit reached', type: 'OAuthException', code: 17 } },
    });
    await track(t, 'event', app.live, { device_id: d1, event_name: 'sign_up' });
    let [signUp] = await waitFor(
      app,
      (d) => d[0]?.eventName === 'sign_up' && d[0].status === 'retrying',
    );
    expect(new Date(signUp.nextAttemptAt).getTime() - Date.now()).toBeGreaterThan(250_000);
    expect(signUp.error).toMatch(/^meta 17:/);
    await t.sql`update deliveries set next_attempt_at = now() where id = ${signUp.id}`;
    [signUp] = await waitFor(app, (d) => d[0]?.status === 'delivered');

    // Expired token: the integration pauses, deliveries wait, a PATCH with a new token resumes them.
    meta.script('/1234567890123456/events', {
      status: 400,
      body: {
        error: {
          message: 'Error validating access token: The token has expired',
          type: 'OAuthException',
          code: 190,
          error_subcode: 463,
        },
      },
    });
    await track(t, 'event', app.live, { device_id: d1, event_name: 'subscribe' });
    await waitFor(app, (d) => d[0]?.eventName === 'subscribe' && d[0].attempts === 1);
    const paused = (
      await api(t, 'GET', `/api/v1/apps/${app.appId}/integrations/meta`, { auth: app.apiKey })
    ).body.data;
    expect(paused).toMatchObject({
      status: 'unauthorized',
      lastError: expect.stringContaining('token has expired'),
    });
    await track(t, 'event', app.live, { device_id: d1, event_name: 'search' });
    await new Promise((r) => setTimeout(r, 2_500));
    const waiting = await deliveriesOf(app);
    expect(waiting.slice(0, 2).map((d) => [d.eventName, d.status])).toEqual([
      ['search', 'pending'],
      ['subscribe', 'retrying'],
    ]);
    await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/meta`, {
      auth: app.apiKey,
      body: { settings: { accessToken: 'EAAB-new-token-1234' } },
    });
    const resumed = await waitFor(app, (d) => d.every((x) => x.status === 'delivered'));
    expect(receivedFor(meta, resumed[0].forwardId).at(-1)!.body.access_token).toBe(
      'EAAB-new-token-1234',
    );

    // Invalid parameter: permanent.
    meta.script('/1234567890123456/events', {
      status: 400,
      body: { error: { message: 'Invalid parameter', type: 'OAuthException', code: 100 } },
    });
    await track(t, 'event', app.live, { device_id: d1, event_name: 'view_content' });
    const [failed] = await waitFor(
      app,
      (d) => d[0]?.eventName === 'view_content' && d[0].status === 'failed',
    );
    expect(failed).toMatchObject({
      httpStatus: 400,
      error: 'meta 100: Invalid parameter',
      nextAttemptAt: null,
    });
    install = failed;
  });

  it('a timeout and a connection reset are retried, and the delivery ends delivered', async () => {
    const app = await createSdkApp(t);
    await configureMeta(app);
    meta.script('/1234567890123456/events', { delayMs: 2_500 }, { reset: true });
    await attributedDevice(app, { network: 'meta', fbclid: `IwAR-${randomBase62(12)}` });
    const [d] = await waitFor(app, (x) => x[0]?.status === 'delivered', 30_000);
    expect(d.attempts).toBe(3);
    expect(receivedFor(meta, d.forwardId)).toHaveLength(3);
  });
});

async function configureGoogle(app: SdkApp) {
  const r = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/google`, {
    auth: app.apiKey,
    body: {
      enabled: true,
      settings: {
        customerId: '123-456-7890',
        loginCustomerId: '9876543210',
        developerToken: 'dev-token-22-characters',
        clientId: '123-abc.apps.googleusercontent.com',
        clientSecret: 'GOCSPX-secret',
        refreshToken: '1//0g-refresh',
        conversionActions: { install: '111', purchase: '222', sign_up: '333' },
      },
    },
  });
  expect(r.status).toBe(200);
  return r.body.data;
}

describe('Google Ads', () => {
  it('uploads click conversions with the exact body and headers, refreshing the OAuth token once on expiry', async () => {
    const app = await createSdkApp(t);
    const data = await configureGoogle(app);
    expect(data.settings).toMatchObject({
      customerId: '1234567890',
      developerToken: { set: true, last4: 'ters' },
      apiVersion: 'v22',
    });
    const gclid = `Cj0KCQiA-${randomBase62(12)}`;
    const deviceId = await attributedDevice(app, { network: 'google', gclid });
    const [install] = await waitFor(app, (d) => d[0]?.status === 'delivered');
    const [ev] = await t.sql`select received_at from events where id = ${install.eventId}`;
    const [got] = receivedFor(google, install.forwardId);
    expect(got.path).toBe('/v22/customers/1234567890:uploadClickConversions');
    expect(got.headers).toMatchObject({
      'developer-token': 'dev-token-22-characters',
      'login-customer-id': '9876543210',
      authorization: expect.stringMatching(/^Bearer fake-\d+$/),
    });
    const iso = ev.received_at.toISOString();
    expect(got.body).toEqual({
      conversions: [
        {
          gclid,
          conversionAction: 'customers/1234567890/conversionActions/111',
          conversionDateTime: `${iso.slice(0, 10)} ${iso.slice(11, 19)}+00:00`,
          orderId: install.forwardId,
          conversionEnvironment: 'APP',
        },
      ],
      partialFailure: true,
      validateOnly: false,
    });
    expect(install.request).toEqual(got.body);

    // An expired access token: exactly one refresh, then success.
    const tokenCalls = () => google.received.filter((r) => r.path === '/token').length;
    const before = tokenCalls();
    google.script(
      ':uploadClickConversions',
      googleError(401, 'UNAUTHENTICATED', { authenticationError: 'OAUTH_TOKEN_EXPIRED' }),
    );
    await track(t, 'event', app.live, {
      device_id: deviceId,
      event_name: 'purchase',
      revenue: '4.99',
      currency: 'EUR',
    });
    const [purchase] = await waitFor(
      app,
      (d) => d[0]?.eventName === 'purchase' && d[0].status === 'delivered',
    );
    expect(tokenCalls() - before).toBe(1);
    expect(purchase.attempts).toBe(1);
    const sent = receivedFor(google, purchase.forwardId);
    expect(sent).toHaveLength(2);
    expect(sent[1].headers.authorization).not.toBe(sent[0].headers.authorization);
    expect(sent[1].body.conversions[0]).toMatchObject({
      conversionValue: 4.99,
      currencyCode: 'EUR',
    });
    const [form] = google.received.filter((r) => r.path === '/token').slice(-1);
    expect(form.body).toEqual({
      client_id: '123-abc.apps.googleusercontent.com',
      client_secret: 'GOCSPX-secret',
      refresh_token: '1//0g-refresh',
      grant_type: 'refresh_token',
    });
  });

  it('partial failures are mapped back by index; quota errors honour retryDelay; permission errors pause the integration', async () => {
    const app = await createSdkApp(t);
    await configureGoogle(app);
    const deviceId = await attributedDevice(app, {
      network: 'google',
      gclid: `Cj0-${randomBase62(12)}`,
    });
    await waitFor(app, (d) => d[0]?.status === 'delivered');
    // Pause sending so that the next three deliveries go in one batch.
    await t.sql`update integrations set status = 'unauthorized' where app_id = ${app.appId}`;
    for (const name of ['sign_up', 'purchase', 'install'])
      await track(t, 'event', app.live, {
        device_id: deviceId,
        event_name: name,
        event_id: `e-${name}`,
      });
    const rowError = (index: number, value: string) => ({
      errorCode: { conversionUploadError: value },
      message: value,
      location: { fieldPathElements: [{ fieldName: 'conversions', index }] },
    });
    google.script(':uploadClickConversions', {
      body: {
        results: [{}, { gclid: 'x' }, {}],
        partialFailureError: {
          code: 3,
          message: 'partial',
          details: [
            {
              '@type': 'type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure',
              errors: [
                rowError(0, 'EVENT_NOT_FOUND'),
                rowError(2, 'CLICK_CONVERSION_ALREADY_EXISTS'),
              ],
            },
          ],
        },
      },
    });
    await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/google`, {
      auth: app.apiKey,
      body: { settings: { refreshToken: '1//0g-refresh-2' } },
    });
    const ds = await waitFor(app, (d) => d.length === 4 && d.every((x) => x.status !== 'pending'));
    const batch = receivedFor(google, ds[0].forwardId).at(-1)!;
    expect(batch.body.conversions.map((c: { orderId: string }) => c.orderId)).toEqual([
      ds[2].forwardId,
      ds[1].forwardId,
      ds[0].forwardId,
    ]);
    expect(ds.slice(0, 3).map((d) => [d.eventName, d.status, d.error])).toEqual([
      ['install', 'delivered', null],
      ['purchase', 'delivered', null],
      ['sign_up', 'failed', 'google EVENT_NOT_FOUND: EVENT_NOT_FOUND'],
    ]);
    // Each delivery's audit log keeps its own part of the answer: its result and its own errors.
    const failure = (error: object) => ({
      partialFailureError: {
        code: 3,
        message: 'partial',
        details: [
          {
            '@type': 'type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure',
            errors: [error],
          },
        ],
      },
    });
    expect(ds.slice(0, 3).map((d) => d.response)).toEqual([
      { results: [{}], ...failure(rowError(2, 'CLICK_CONVERSION_ALREADY_EXISTS')) },
      { results: [{ gclid: 'x' }] },
      { results: [{}], ...failure(rowError(0, 'EVENT_NOT_FOUND')) },
    ]);

    google.script(
      ':uploadClickConversions',
      googleError(429, 'RESOURCE_EXHAUSTED', { quotaError: 'RESOURCE_TEMPORARILY_EXHAUSTED' }, [
        {
          '@type': 'type.googleapis.com/google.ads.googleads.v22.errors.QuotaErrorDetails',
          retryDelay: '30s',
        },
      ]),
    );
    await track(t, 'event', app.live, {
      device_id: deviceId,
      event_name: 'purchase',
      event_id: 'e-p2',
    });
    const [quota] = await waitFor(app, (d) => d[0]?.status === 'retrying');
    const wait = new Date(quota.nextAttemptAt).getTime() - Date.now();
    expect(wait).toBeGreaterThan(20_000);
    expect(wait).toBeLessThanOrEqual(31_000);

    google.script(
      ':uploadClickConversions',
      googleError(403, 'PERMISSION_DENIED', { authorizationError: 'USER_PERMISSION_DENIED' }),
    );
    await t.sql`update deliveries set next_attempt_at = now() where id = ${quota.id}`;
    await eventually(async () => {
      const [i] =
        await t.sql`select status from integrations where app_id = ${app.appId} and network = 'google'`;
      return i.status === 'unauthorized';
    });
  });

  it('install goes to Google only with a gclid (a gbraid install is skipped); an event without a conversion action is skipped', async () => {
    const app = await createSdkApp(t);
    await configureGoogle(app);
    const clickId = await insertClick(t.sql, { appId: app.appId, network: 'google' });
    await t.sql`update clicks set gbraid = 'gb-123' where id = ${clickId}`;
    const deviceId = `dev-${randomBase62(8)}`;
    await track(t, 'configure', app.live, {
      device_id: deviceId,
      ar_click_id: clickId,
      device_info: DEVICE_INFO,
    });
    await track(t, 'event', app.live, { device_id: deviceId, event_name: 'add_to_cart' });
    await track(t, 'event', app.live, {
      device_id: deviceId,
      event_name: 'purchase',
      revenue: 2,
      currency: 'USD',
    });
    const ds = await waitFor(app, (d) => d.length === 3 && d[0].status === 'delivered');
    expect(ds.map((d) => [d.eventName, d.status, d.error])).toEqual([
      ['purchase', 'delivered', null],
      ['add_to_cart', 'skipped', 'no conversion action for this event'],
      ['install', 'skipped', 'install is sent to Google only with a gclid'],
    ]);
    expect(receivedFor(google, ds[0].forwardId)[0].body.conversions[0].gbraid).toBe('gb-123');
  });
});

describe('TikTok Events API', () => {
  async function configureTiktok(app: SdkApp) {
    const r = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/tiktok`, {
      auth: app.apiKey,
      body: {
        enabled: true,
        settings: { pixelCode: 'C4ABCDEFGHIJKLMN1234', accessToken: 'tt-token-abcd' },
      },
    });
    expect(r.status).toBe(200);
  }

  it('sends event/track with a string event_id and the ttclid in user.ttclid', async () => {
    const app = await createSdkApp(t);
    await configureTiktok(app);
    const ttclid = `E.C.P.${randomBase62(16)}`;
    await attributedDevice(app, { network: 'tiktok', ttclid });
    const [install] = await waitFor(app, (d) => d[0]?.status === 'delivered');
    const [ev] = await t.sql`select received_at from events where id = ${install.eventId}`;
    const [got] = receivedFor(tiktok, install.forwardId);
    expect(got.path).toBe('/open_api/v1.3/event/track/');
    expect(got.headers['access-token']).toBe('tt-token-abcd');
    expect(got.body).toEqual({
      event_source: 'web',
      event_source_id: 'C4ABCDEFGHIJKLMN1234',
      data: [
        {
          event: 'Lead',
          event_time: Math.floor(ev.received_at.getTime() / 1000),
          event_id: install.forwardId,
          user: {
            ttclid,
            ip: '203.0.113.7',
            user_agent: APP_UA,
            external_id: expect.stringMatching(/^[0-9a-f]{64}$/),
          },
          page: {
            url: `http://trk.test.local/api/c/lnk-tiktok-${app.appId}?ttclid=${encodeURIComponent(ttclid)}`,
          },
          limited_data_use: false,
        },
      ],
    });
    expect(install.request).toEqual({
      event_source: 'web',
      event_source_id: 'C4ABCDEFGHIJKLMN1234',
      data: got.body.data,
    });
  });

  it.each([
    [
      'C (40105)',
      { body: { code: 40105, message: 'Access token is invalid' } },
      'retrying',
      'unauthorized',
    ],
    ['P (40002)', { body: { code: 40002, message: 'Invalid value' } }, 'failed', 'ok'],
    [
      'R-later (40100)',
      { body: { code: 40100, message: 'Too many requests' } },
      'retrying',
      'failing',
    ],
    ['R (50002)', { body: { code: 50002, message: 'Internal error' } }, 'delivered', 'ok'],
    ['R (HTTP 503)', { status: 503, body: 'unavailable' }, 'delivered', 'ok'],
  ])('error class %s', async (_name, reply, deliveryStatus, integrationStatus) => {
    const app = await createSdkApp(t);
    await configureTiktok(app);
    tiktok.script('/event/track/', reply);
    await attributedDevice(app, { network: 'tiktok', ttclid: `E.C.P.${randomBase62(16)}` });
    const [d] = await waitFor(
      app,
      (x) =>
        x[0]?.attempts >= (deliveryStatus === 'delivered' ? 2 : 1) &&
        x[0].status === deliveryStatus,
    );
    const [i] = await t.sql`select status from integrations where app_id = ${app.appId}`;
    expect(i.status).toBe(integrationStatus);
    if (deliveryStatus === 'delivered') expect(receivedFor(tiktok, d.forwardId)).toHaveLength(2);
  });
});

describe('audit log', () => {
  it('filters, pages with a cursor, and retries a failed delivery with the same forward id', async () => {
    const app = await createSdkApp(t);
    await configureMeta(app);
    const deviceId = await attributedDevice(app, {
      network: 'meta',
      fbclid: `IwAR-${randomBase62(12)}`,
    });
    meta.script('/1234567890123456/events', {
      status: 400,
      body: { error: { message: 'Invalid parameter', code: 100 } },
    });
    await waitFor(app, (d) => d[0]?.status === 'failed');
    for (const name of ['a1', 'a2', 'a3'])
      await track(t, 'event', app.live, { device_id: deviceId, event_name: name });
    await waitFor(
      app,
      (d) => d.length === 4 && d.filter((x) => x.status === 'delivered').length === 3,
    );

    const p1 = await api(
      t,
      'GET',
      `/api/v1/apps/${app.appId}/integrations/deliveries?limit=2&status=delivered`,
      { auth: app.apiKey },
    );
    expect(p1.body.data.map((d: any) => d.eventName)).toEqual(['a3', 'a2']);
    expect(p1.body.meta.hasMore).toBe(true);
    const p2 = await api(
      t,
      'GET',
      `/api/v1/apps/${app.appId}/integrations/deliveries?limit=2&status=delivered&cursor=${p1.body.meta.cursor}`,
      { auth: app.apiKey },
    );
    expect(p2.body.data.map((d: any) => d.eventName)).toEqual(['a1']);
    expect(p2.body.meta).toEqual({ hasMore: false, cursor: null });
    const foreign = await api(
      t,
      'GET',
      `/api/v1/apps/${app.appId}/integrations/deliveries?limit=2&cursor=${p1.body.meta.cursor}`,
      { auth: app.apiKey },
    );
    expect(foreign.status).toBe(400);
    expect((await deliveriesOf(app, '?network=google')).length).toBe(0);

    const [failed] = await deliveriesOf(app, '?status=failed');
    const byEvent = await deliveriesOf(app, `?eventId=${failed.eventId}`);
    expect(byEvent.map((d) => d.id)).toEqual([failed.id]);
    const retry = await api(
      t,
      'POST',
      `/api/v1/apps/${app.appId}/integrations/deliveries/${failed.id}/retry`,
      { auth: app.apiKey },
    );
    expect(retry.status).toBe(200);
    expect(retry.body.data.status).toBe('retrying');
    await waitFor(app, (d) => d.find((x) => x.id === failed.id)?.status === 'delivered');
    expect(receivedFor(meta, failed.forwardId).map((r) => r.body.data[0].event_id)).toEqual([
      failed.forwardId,
      failed.forwardId,
    ]);
    const again = await api(
      t,
      'POST',
      `/api/v1/apps/${app.appId}/integrations/deliveries/${failed.id}/retry`,
      { auth: app.apiKey },
    );
    expect(again.status).toBe(409);
    expect(
      (
        await api(t, 'POST', `/api/v1/apps/${app.appId}/integrations/deliveries/dlv_nope/retry`, {
          auth: app.apiKey,
        })
      ).status,
    ).toBe(404);
  });
});

describe('test connection', () => {
  const post = (app: SdkApp, network: string, body?: unknown) =>
    api(t, 'POST', `/api/v1/apps/${app.appId}/integrations/${network}/test`, {
      auth: app.apiKey,
      body,
    });

  it('Meta: reads the dataset with the stored token; a refused token answers Meta’s own message; nothing is recorded', async () => {
    const app = await createSdkApp(t);
    await configureMeta(app);
    const ok = await post(app, 'meta');
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({
      ok: true,
      httpStatus: 200,
      details: { dataset: { name: 'FitTrack dataset' } },
    });
    const got = meta.received.at(-1)!;
    expect(got.method).toBe('GET');
    expect(got.path).toBe(
      '/v24.0/1234567890123456?fields=id%2Cname%2Cis_consolidated_container&access_token=EAAB-meta-token-9f2c',
    );

    meta.script('/v24.0/1234567890123456', {
      status: 400,
      body: {
        error: {
          message: 'Error validating access token: Session has expired',
          type: 'OAuthException',
          code: 190,
        },
      },
    });
    const bad = await post(app, 'meta', { settings: { accessToken: 'EAAB-candidate' } });
    expect(bad.body.data).toMatchObject({
      ok: false,
      httpStatus: 400,
      message: 'meta 190: Error validating access token: Session has expired',
    });
    expect(meta.received.at(-1)!.path).toContain('access_token=EAAB-candidate');
    // The candidate was not saved, and no delivery exists.
    const stored = (
      await api(t, 'GET', `/api/v1/apps/${app.appId}/integrations/meta`, { auth: app.apiKey })
    ).body.data;
    expect(stored.settings.accessToken.last4).toBe('9f2c');
    expect(await deliveriesOf(app)).toEqual([]);
  });

  it('Google: refreshes the token, lists customers and validates an upload', async () => {
    const app = await createSdkApp(t);
    await configureGoogle(app);
    const n = google.received.length;
    const r = await post(app, 'google');
    expect(r.body.data).toMatchObject({ ok: true, httpStatus: 200 });
    const calls = google.received.slice(n);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /token',
      'GET /v22/customers:listAccessibleCustomers',
      'POST /v22/customers/1234567890:uploadClickConversions',
    ]);
    expect(calls[2].body).toMatchObject({ partialFailure: true, validateOnly: true });

    google.script('/token', {
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
    });
    const bad = await post(app, 'google');
    expect(bad.body.data).toMatchObject({
      ok: false,
      httpStatus: 400,
      message: 'google oauth 400: invalid_grant Token has been expired or revoked.',
    });
  });

  it('TikTok: posts one event under the test event code; without one it says so', async () => {
    const app = await createSdkApp(t);
    await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/tiktok`, {
      auth: app.apiKey,
      body: {
        enabled: true,
        settings: { pixelCode: 'C4ABCDEFGHIJKLMN1234', accessToken: 'tt-token-abcd' },
      },
    });
    const none = await post(app, 'tiktok');
    expect(none.body.data).toMatchObject({
      ok: false,
      message: expect.stringContaining('testEventCode'),
    });
    const ok = await post(app, 'tiktok', { settings: { testEventCode: 'TEST12345' } });
    expect(ok.body.data).toMatchObject({ ok: true, httpStatus: 200 });
    expect(tiktok.received.at(-1)!.body).toMatchObject({
      event_source_id: 'C4ABCDEFGHIJKLMN1234',
      test_event_code: 'TEST12345',
    });
    tiktok.script('/event/track/', {
      body: { code: 40001, message: 'No permission to operate pixel' },
    });
    const denied = await post(app, 'tiktok', { settings: { testEventCode: 'TEST12345' } });
    expect(denied.body.data).toMatchObject({
      ok: false,
      message: 'tiktok 40001: No permission to operate pixel',
    });
  });
});

it('retention: a delivery still waiting after 30 days is given up; the audit log keeps 365 days', async () => {
  const app = await createSdkApp(t);
  const row = (id: string, status: string, days: number) => t.sql`
    insert into deliveries (id, app_id, network, event_id, event_name, forward_id, status, error, next_attempt_at, created_at)
    values (${id}, ${app.appId}, 'meta', ${`evt_${id}`}, 'purchase', ${`fwd_meta_${id}`}, ${status},
            ${status === 'retrying' ? 'meta 2: unavailable' : null}, now(), now() - ${days} * interval '1 day')`;
  await row(`r${randomBase62(8)}`, 'retrying', 31);
  await row(`p${randomBase62(8)}`, 'pending', 29);
  await row(`d${randomBase62(8)}`, 'delivered', 366);
  await row(`k${randomBase62(8)}`, 'delivered', 364);
  const { deliveryRetentionJob } = await import('./sender.ts');
  const pino = (await import('pino')).default;
  await deliveryRetentionJob(
    {},
    {
      services: { sql: t.sql } as never,
      log: pino({ level: 'silent' }),
      signal: new AbortController().signal,
      attempt: 1,
    },
  );
  const left =
    await t.sql`select left(id, 1) as k, status, error from deliveries where app_id = ${app.appId} order by id`;
  expect(left.map((r) => [r.k, r.status, r.error])).toEqual([
    ['k', 'delivered', null],
    ['p', 'pending', null],
    ['r', 'failed', 'gave up after 30 days: meta 2: unavailable'],
  ]);
});

it('concurrent senders never send the same delivery twice', async () => {
  const app = await createSdkApp(t);
  await configureMeta(app);
  const deviceId = await attributedDevice(app, {
    network: 'meta',
    fbclid: `IwAR-${randomBase62(12)}`,
  });
  await waitFor(app, (d) => d[0]?.status === 'delivered');
  await t.sql`update integrations set status = 'unauthorized' where app_id = ${app.appId}`;
  for (let i = 0; i < 40; i++)
    await track(t, 'event', app.live, { device_id: deviceId, event_name: `c${i}` });
  await t.sql`update integrations set status = 'ok' where app_id = ${app.appId}`;
  const { forwardDue } = await import('./sender.ts');
  const pino = (await import('pino')).default;
  // Three more senders beside the server's own job, all at once.
  await Promise.all([1, 2, 3].map(() => forwardDue(t.sql, t.config, pino({ level: 'silent' }))));
  const ds = await waitFor(app, (d) => d.length === 41 && d.every((x) => x.status === 'delivered'));
  const sends = ds.map((d) => receivedFor(meta, d.forwardId).length);
  expect(sends).toEqual(ds.map(() => 1));
});
