/**
 * RevenueCat and Superwall webhooks through the real endpoints and a real database: settings,
 * every answer code, device matching (now and later), revenue and refunds in analytics, sandbox
 * isolation, dedup under concurrent duplicates, client-vs-webhook purchases, and forwarding to a
 * fake Meta (docs/spec/external-apis.md §9).
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { randomBase62 } from '../../lib/crypto.ts';
import { metaFake, type Fake } from '../integrations/test-support.ts';
import { createSdkApp, insertClick, track, type SdkApp } from '../tracking/test-support.ts';
import {
  RC_TRIAL_CANCELLED,
  RC_TRIAL_CONVERTED,
  RC_TRIAL_START,
  SW_TRIAL_START,
} from './fixtures.ts';
import { rematchWebhookEvents } from './rematch.ts';

let t: TestServer;
let meta: Fake;

beforeAll(async () => {
  meta = await metaFake();
  t = await startTestServer({
    META_GRAPH_URL: `${meta.url}v24.0/`,
    FORWARD_RETRY_BASE_SECONDS: '1',
  });
});
afterAll(async () => {
  await t?.close();
  await meta?.close();
});

/** An app with RevenueCat on (its secret returned) and Meta forwarding configured. */
async function setup(over: Record<string, unknown> = {}) {
  const app = await createSdkApp(t, over);
  const rc = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/revenuecat`, {
    auth: app.apiKey,
    body: { enabled: true },
  });
  expect(rc.status).toBe(200);
  const m = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/meta`, {
    auth: app.apiKey,
    body: {
      enabled: true,
      settings: { datasetId: '1234567890123456', accessToken: 'EAAB-meta-token-9f2c' },
    },
  });
  expect(m.status).toBe(200);
  return { ...app, secret: rc.body.data.authorization.value as string };
}

/** A device installed from a Meta click (fbclid), in `env`. */
async function metaDevice(app: SdkApp, env: 'live' | 'sandbox' = 'live') {
  const clickId = await insertClick(t.sql, {
    appId: app.appId,
    linkId: `lnk-meta-${app.appId}`,
    network: 'meta',
    fbclid: `fbclid-${randomBase62(8)}`,
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (iPhone)',
    environment: env,
  });
  const deviceId = `dev-${randomBase62(10)}`;
  const r = await track(t, 'configure', env === 'live' ? app.live : app.test, {
    device_id: deviceId,
    ar_click_id: clickId,
    device_info: { platform: 'ios', app_version: '1.0', os_version: '17.5', model: 'iPhone14,2' },
  });
  expect(r.status).toBe(200);
  return deviceId;
}

/** A §4.4 example with a fresh event id and `patch` over its `event`. */
function rcBody(base: string, patch: Record<string, unknown> = {}) {
  const body = JSON.parse(base);
  Object.assign(body.event, { id: `evt-${randomBase62(12)}` }, patch);
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete body.event[k];
  return body;
}
const attrs = (deviceId: string) => ({
  subscriber_attributes: { appreferId: { value: deviceId, updated_at_ms: 1763890901000 } },
});

function postRc(app: { appId: string }, body: unknown, authorization?: string) {
  return fetch(`${t.url}/api/webhook/revenuecat/${app.appId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization !== undefined ? { authorization } : {}),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
async function rcOk(app: { appId: string; secret: string }, body: unknown) {
  const r = await postRc(app, body, `Bearer ${app.secret}`);
  expect(r.status).toBe(200);
  return ((await r.json()) as { status: string }).status;
}

async function events(app: SdkApp, query = '') {
  const r = await api(t, 'GET', `/api/v1/apps/${app.appId}/events?limit=200${query}`, {
    auth: app.apiKey,
  });
  expect(r.status).toBe(200);
  return r.body.data as any[];
}
async function overview(app: SdkApp, query = '') {
  const r = await api(t, 'GET', `/api/v1/apps/${app.appId}/overview?${query}`, {
    auth: app.apiKey,
  });
  expect(r.status).toBe(200);
  // Money is {amount, currency} in the app's currency: the amount is what these tests compare.
  return { ...r.body.data.kpis, revenue: r.body.data.kpis.revenue.amount };
}
async function deliveries(app: SdkApp) {
  const r = await api(t, 'GET', `/api/v1/apps/${app.appId}/integrations/deliveries`, {
    auth: app.apiKey,
  });
  return r.body.data as any[];
}

describe('settings', () => {
  it('RevenueCat: the exact URL, a secret shown once, stored only as a hash, rotatable', async () => {
    const app = await createSdkApp(t);
    const path = `/api/v1/apps/${app.appId}/integrations/revenuecat`;
    const before = await api(t, 'GET', path, { auth: app.apiKey });
    expect(before.body.data).toEqual({
      network: 'revenuecat',
      enabled: false,
      webhookUrl: `http://api.test.local/api/webhook/revenuecat/${app.appId}`,
      authorization: { set: false, last4: null },
      updatedAt: null,
    });
    const on = await api(t, 'PATCH', path, { auth: app.apiKey, body: { enabled: true } });
    const secret = on.body.data.authorization.value as string;
    expect(secret).toMatch(/^rcwh_[A-Za-z0-9]{32}$/);
    expect(on.body.data.authorization).toMatchObject({ set: true, last4: secret.slice(-4) });
    const [row] =
      await t.sql`select secret_hash, secret_enc from webhook_integrations where app_id = ${app.appId}`;
    expect(JSON.stringify(row)).not.toContain(secret);
    const read = await api(t, 'GET', path, { auth: app.apiKey });
    expect(read.body.data.authorization).toEqual({ set: true, last4: secret.slice(-4) });

    const rotated = await api(t, 'PATCH', path, { auth: app.apiKey, body: { rotateSecret: true } });
    const next = rotated.body.data.authorization.value as string;
    expect(next).not.toBe(secret);
    const body = rcBody(RC_TRIAL_START);
    expect((await postRc(app, body, secret)).status).toBe(401);
    expect((await postRc(app, body, next)).status).toBe(200);

    const all = await api(t, 'GET', `/api/v1/apps/${app.appId}/integrations`, { auth: app.apiKey });
    expect(all.body.data.revenuecat).toMatchObject({ network: 'revenuecat', enabled: true });
    expect(all.body.data.superwall).toMatchObject({ network: 'superwall', enabled: false });
    // Webhooks are the revenue source now: client purchases are not forwarded by default.
    expect(all.body.data.meta.forwardClientPurchases).toBe(false);
  });

  it('Superwall: the whsec_ secret is required to enable, write-only and encrypted at rest', async () => {
    const app = await createSdkApp(t);
    const path = `/api/v1/apps/${app.appId}/integrations/superwall`;
    const refused = await api(t, 'PATCH', path, { auth: app.apiKey, body: { enabled: true } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('signingSecret');
    const malformed = await api(t, 'PATCH', path, {
      auth: app.apiKey,
      body: { signingSecret: 'not-a-secret' },
    });
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(malformed.body)).toContain('signingSecret');
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const ok = await api(t, 'PATCH', path, {
      auth: app.apiKey,
      body: { enabled: true, signingSecret: secret },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({
      enabled: true,
      webhookUrl: `http://api.test.local/api/webhook/superwall/${app.appId}`,
      signingSecret: { set: true, last4: 'LaSw' },
    });
    const [row] = await t.sql`select * from webhook_integrations where app_id = ${app.appId}`;
    expect(JSON.stringify(row)).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  });
});

describe('RevenueCat answers', () => {
  it('401 without or with a wrong secret; raw and Bearer both work; 404 when not enabled', async () => {
    const app = await setup();
    const body = rcBody(RC_TRIAL_START);
    expect((await postRc(app, body)).status).toBe(401);
    expect((await postRc(app, body, 'Bearer wrong')).status).toBe(401);
    expect((await postRc(app, body, `Bearer ${app.secret}x`)).status).toBe(401);
    expect((await postRc(app, body, app.secret)).status).toBe(200);
    expect((await postRc(app, rcBody(RC_TRIAL_START), `bearer ${app.secret}`)).status).toBe(200);

    const off = await createSdkApp(t);
    const r = await postRc(off, body, 'anything');
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({
      error: { message: expect.stringContaining('not enabled') },
    });
    expect((await postRc({ appId: 'app_doesnotexist' }, body, 'x')).status).toBe(404);
  });

  it('400 names what is wrong; unknown types, TEST and oversize bodies are handled', async () => {
    const app = await setup();
    const auth = `Bearer ${app.secret}`;
    const notJson = await postRc(app, '{"api_version":', auth);
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { code: 'invalid_json' } });
    const noId = await postRc(app, { api_version: '1.0', event: { type: 'RENEWAL' } }, auth);
    expect(noId.status).toBe(400);
    expect(await noId.json()).toMatchObject({
      error: { code: 'validation_error', message: expect.stringContaining('event.id') },
    });

    const unknown = rcBody(RC_TRIAL_START, { type: 'PAYWALL_SOMETHING_NEW', new_field: [1] });
    expect(await rcOk(app, unknown)).toBe('ignored');
    const [stored] =
      await t.sql`select outcome, raw from webhook_events where app_id = ${app.appId} and external_id = ${unknown.event.id}`;
    expect(stored.outcome).toBe('ignored');
    expect(stored.raw.event.new_field).toEqual([1]);
    expect(await rcOk(app, { api_version: '1.0', event: { id: 'test-1', type: 'TEST' } })).toBe(
      'test',
    );
    expect(await events(app, '&source=revenuecat')).toEqual([]);

    // Characters PostgreSQL cannot store (NUL, a lone surrogate) anywhere in the body: still a 200.
    const odd = rcBody(RC_TRIAL_START, {
      type: 'SOMETHING_ODD',
      note: 'a\u0000b\ud800c',
      app_user_id: 'u\u0000ser',
      aliases: ['\udc00'],
    });
    expect(await rcOk(app, odd)).toBe('ignored');
    const recordedOdd = rcBody(RC_TRIAL_START, {
      app_user_id: 'u\u0000ser',
      product_id: 'p\ud800',
      subscriber_attributes: { appreferId: { value: 'dev\u0000-odd', updated_at_ms: 1 } },
    });
    expect(await rcOk(app, recordedOdd)).toBe('recorded');

    const huge = rcBody(RC_TRIAL_START, { padding: 'x'.repeat(1024 * 1024) });
    expect((await postRc(app, huge, auth)).status).toBe(413);
    const big = rcBody(RC_TRIAL_START, { padding: 'x'.repeat(900 * 1024) });
    expect((await postRc(app, big, auth)).status).toBe(200);
  });
});

describe('recording', () => {
  it('a trial start and its paid renewal: on the device, in the event log and analytics, forwarded to Meta', async () => {
    const app = await setup({ currency: 'EUR' });
    const deviceId = await metaDevice(app);
    expect(await rcOk(app, rcBody(RC_TRIAL_START, attrs(deviceId)))).toBe('recorded');
    expect(await rcOk(app, rcBody(RC_TRIAL_CONVERTED, attrs(deviceId)))).toBe('recorded');

    const log = await events(app, '&source=revenuecat');
    expect(log.map((e) => e.eventName).sort()).toEqual(['purchase', 'start_trial']);
    const purchase = log.find((e) => e.eventName === 'purchase');
    expect(purchase).toMatchObject({
      deviceId,
      source: 'revenuecat',
      userId: 'user_8812',
      revenue: { amount: 54.99, currency: 'EUR' },
      attribution: { network: 'meta' },
    });
    const k = await overview(app);
    expect(k).toMatchObject({ trials: 1, purchases: 1, revenue: 54.99, payingUsers: 1 });

    const ds = await eventually(async () => {
      const all = await deliveries(app);
      const done = all.filter((d) => d.status === 'delivered').map((d) => d.networkEventName);
      return done.includes('Purchase') && done.includes('StartTrial') ? all : null;
    });
    const buy = ds.find((d) => d.networkEventName === 'Purchase');
    expect(meta.received.some((r) => r.raw.includes(buy.forwardId))).toBe(true);
    expect(buy.request.data[0].custom_data).toMatchObject({ value: 54.99, currency: 'EUR' });
    // The event log shows each event's forwarding result.
    const logged = (await events(app, '&source=revenuecat')).find((e) => e.id === buy.eventId);
    expect(logged.forwarding).toEqual([
      expect.objectContaining({
        network: 'meta',
        status: 'delivered',
        networkEventName: 'Purchase',
      }),
    ]);
  });

  it('a refund lowers revenue (not purchases) and REFUND_REVERSED restores it; neither is forwarded', async () => {
    const app = await setup();
    const deviceId = await metaDevice(app);
    const paid = {
      ...attrs(deviceId),
      type: 'NON_RENEWING_PURCHASE',
      price: 9.99,
      price_in_purchased_currency: 9.99,
      currency: 'USD',
    };
    await rcOk(app, rcBody(RC_TRIAL_CONVERTED, paid));
    expect(await overview(app)).toMatchObject({ purchases: 1, revenue: 9.99 });
    const refund = {
      ...attrs(deviceId),
      cancel_reason: 'CUSTOMER_SUPPORT',
      period_type: 'NORMAL',
      price: -9.99,
      price_in_purchased_currency: -9.99,
    };
    expect(await rcOk(app, rcBody(RC_TRIAL_CANCELLED, refund))).toBe('recorded');
    expect(await overview(app)).toMatchObject({ purchases: 1, revenue: 0 });
    await rcOk(app, rcBody(RC_TRIAL_CONVERTED, { ...paid, type: 'REFUND_REVERSED' }));
    expect(await overview(app)).toMatchObject({ purchases: 1, revenue: 9.99 });

    // Only the purchase is forwarded; refunds and their reversal are recorded, never sent.
    const ds = await eventually(async () => {
      const all = await deliveries(app);
      return all.filter((d) => d.status === 'delivered').length === 2 ? all : null;
    });
    expect(ds.map((d) => d.eventName).sort()).toEqual(['install', 'purchase']);
  });

  it('SANDBOX events stay in the sandbox and are never forwarded', async () => {
    const app = await setup();
    const deviceId = await metaDevice(app, 'sandbox');
    await rcOk(app, rcBody(RC_TRIAL_CONVERTED, { ...attrs(deviceId), environment: 'SANDBOX' }));
    expect(await events(app, '&source=revenuecat')).toEqual([]);
    const sandbox = await events(app, '&source=revenuecat&environment=sandbox');
    expect(sandbox).toHaveLength(1);
    expect(sandbox[0]).toMatchObject({ environment: 'sandbox', deviceId });
    expect(await overview(app)).toMatchObject({ purchases: 0, revenue: 0 });
    expect(await overview(app, 'environment=sandbox')).toMatchObject({ purchases: 1 });
    const [d] = await deliveries(app);
    expect(d).toMatchObject({ status: 'skipped', error: 'sandbox event (never forwarded)' });
  });

  it('concurrent duplicate deliveries are recorded once', async () => {
    const app = await setup();
    const deviceId = await metaDevice(app);
    const body = rcBody(RC_TRIAL_CONVERTED, attrs(deviceId));
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => postRc(app, body, `Bearer ${app.secret}`)),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    const statuses = await Promise.all(answers.map(async (r) => (await r.json()).status));
    expect(statuses.filter((s) => s === 'recorded')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(7);
    expect(await events(app, '&source=revenuecat')).toHaveLength(1);
    expect(await overview(app)).toMatchObject({ purchases: 1 });
  });

  it('finds the device by a linked user id, or by IDFA, without appreferId', async () => {
    const app = await setup();
    const byUser = await metaDevice(app);
    const set = await track(t, 'event', app.live, {
      device_id: byUser,
      event_name: '_set_user_id',
      properties: { user_id: 'user_8812' },
    });
    expect(set.status).toBe(200);
    expect(await rcOk(app, rcBody(RC_TRIAL_CONVERTED, { subscriber_attributes: {} }))).toBe(
      'recorded',
    );

    const idfa = 'A1B2C3D4-1111-4222-8333-444455556666';
    const byIdfa = `dev-${randomBase62(8)}`;
    await track(t, 'configure', app.live, {
      device_id: byIdfa,
      idfa,
      device_info: { platform: 'ios' },
    });
    const other = rcBody(RC_TRIAL_CONVERTED, {
      app_user_id: 'someone-else',
      original_app_user_id: 'someone-else',
      aliases: [],
      subscriber_attributes: { $idfa: { value: idfa, updated_at_ms: 1 } },
    });
    expect(await rcOk(app, other)).toBe('recorded');
    const log = await events(app, '&source=revenuecat');
    expect(log.map((e) => e.deviceId).sort()).toEqual([byIdfa, byUser].sort());
  });

  it('an unmatched purchase counts unattributed, then moves to the device once its user id is linked', async () => {
    const app = await setup();
    const body = rcBody(RC_TRIAL_CONVERTED, {
      app_user_id: 'late_user',
      original_app_user_id: 'late_user',
      aliases: ['late_user'],
      subscriber_attributes: {},
      currency: 'USD',
      price_in_purchased_currency: 19.99,
    });
    expect(await rcOk(app, body)).toBe('unmatched');
    const [before] = await events(app, '&source=revenuecat');
    expect(before).toMatchObject({ deviceId: null, userId: 'late_user' });
    const statsOf = async () => {
      const r = await api(
        t,
        'GET',
        `/api/v1/apps/${app.appId}/stats?groupBy=network&metrics=purchases,revenue`,
        { auth: app.apiKey },
      );
      return (r.body.data as any[]).map((row) => ({
        dimensions: row.dimensions,
        metrics: { purchases: row.metrics.purchases, revenue: row.metrics.revenue.amount },
      }));
    };
    expect(await statsOf()).toEqual([
      { dimensions: { network: null }, metrics: { purchases: 1, revenue: 19.99 } },
    ]);

    const deviceId = await metaDevice(app);
    await track(t, 'event', app.live, {
      device_id: deviceId,
      event_name: '_set_user_id',
      properties: { user_id: 'late_user' },
    });
    // The job looks again after a minute: run it as if that minute had passed.
    expect(await rematchWebhookEvents(t.sql, new Date(Date.now() + 61_000))).toBe(1);
    const [after] = await events(app, '&source=revenuecat');
    expect(after).toMatchObject({
      id: before.id,
      deviceId,
      attribution: { network: 'meta' },
      receivedAt: before.receivedAt,
    });
    const rows = await statsOf();
    expect(rows.find((r) => r.dimensions.network === 'meta')?.metrics).toEqual({
      purchases: 1,
      revenue: 19.99,
    });
    expect(rows.find((r) => r.dimensions.network === null)).toBeUndefined();
    await eventually(async () =>
      (await deliveries(app)).some((d) => d.eventId === before.id && d.status === 'delivered'),
    );
  });

  it('an unmatched event keeps being looked for, less often', async () => {
    const app = await setup();
    const body = rcBody(RC_TRIAL_CONVERTED, {
      app_user_id: 'nobody',
      original_app_user_id: 'nobody',
      aliases: [],
      subscriber_attributes: {},
    });
    expect(await rcOk(app, body)).toBe('unmatched');
    const now = Date.now();
    await rematchWebhookEvents(t.sql, new Date(now + 61_000));
    await rematchWebhookEvents(t.sql, new Date(now + 61_000));
    const [w] =
      await t.sql`select checks, next_check_at from webhook_events where external_id = ${body.event.id}`;
    expect(w.checks).toBe(1);
    expect(w.next_check_at.getTime()).toBe(now + 61_000 + 2 * 60_000);
  });

  it('TRANSFER links the new user id to the device of the old one', async () => {
    const app = await setup();
    const deviceId = await metaDevice(app);
    await track(t, 'event', app.live, {
      device_id: deviceId,
      event_name: '_set_user_id',
      properties: { user_id: 'old_account' },
    });
    const transfer = rcBody(RC_TRIAL_CONVERTED, {
      type: 'TRANSFER',
      app_user_id: undefined,
      original_app_user_id: undefined,
      aliases: undefined,
      subscriber_attributes: {},
      transferred_from: ['old_account'],
      transferred_to: ['new_account'],
    });
    expect(await rcOk(app, transfer)).toBe('recorded');
    const renewal = rcBody(RC_TRIAL_CONVERTED, {
      app_user_id: 'new_account',
      original_app_user_id: 'new_account',
      aliases: ['new_account'],
      subscriber_attributes: {},
    });
    expect(await rcOk(app, renewal)).toBe('recorded');
    const log = await events(app, '&source=revenuecat');
    expect(log.map((e) => [e.eventName, e.deviceId])).toEqual([
      ['purchase', deviceId],
      ['subscription_transferred', deviceId],
    ]);
  });

  it('client purchases of a webhook app are recorded, not counted, and not forwarded unless asked', async () => {
    const app = await setup();
    const deviceId = await metaDevice(app);
    const buy = (id: string) =>
      track(t, 'event', app.live, {
        device_id: deviceId,
        event_name: 'purchase',
        event_id: id,
        revenue: 4.99,
        currency: 'USD',
      });
    expect((await buy('client-1')).status).toBe(200);
    await rcOk(
      app,
      rcBody(RC_TRIAL_CONVERTED, {
        ...attrs(deviceId),
        currency: 'USD',
        price_in_purchased_currency: 4.99,
      }),
    );
    // One purchase, not two: the client's is in the log, flagged, and not counted.
    expect(await overview(app)).toMatchObject({ purchases: 1, revenue: 4.99 });
    const client = (await events(app, '&source=s2s')).find((e) => e.eventName === 'purchase');
    expect(client.flags).toContain('revenue_from_webhooks');
    const skipped = await eventually(async () =>
      (await deliveries(app)).find((d) => d.eventId === client.id),
    );
    expect(skipped.status).toBe('skipped');
    expect(skipped.error).toContain('forwardClientPurchases');

    await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/meta`, {
      auth: app.apiKey,
      body: { forwardClientPurchases: true },
    });
    expect((await buy('client-2')).status).toBe(200);
    const second = (await events(app, '&source=s2s')).find(
      (e) => e.eventName === 'purchase' && e.id !== client.id,
    );
    await eventually(async () =>
      (await deliveries(app)).some((d) => d.eventId === second.id && d.status === 'delivered'),
    );
  });
  it('turning RevenueCat on takes effect for client purchases at once (SDK app caches are told)', async () => {
    const app = await createSdkApp(t);
    const deviceId = await metaDevice(app); // the SDK key is now cached by the server
    const buy = (id: string) =>
      track(t, 'event', app.live, {
        device_id: deviceId,
        event_name: 'purchase',
        event_id: id,
        revenue: 2.5,
        currency: 'USD',
      });
    expect((await buy('before')).status).toBe(200);
    const on = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/revenuecat`, {
      auth: app.apiKey,
      body: { enabled: true },
    });
    expect(on.status).toBe(200);
    await eventually(async () => {
      await buy(`after-${randomBase62(6)}`);
      const log = await events(app, '&eventName=purchase');
      return log.some((e) => e.flags.includes('revenue_from_webhooks'));
    }, 10_000);
    const log = await events(app, '&eventName=purchase');
    expect(log.at(-1).flags).toEqual([]); // the first one (newest first)
    // Purchases sent before this process heard of the change are counted (the loop above may
    // have sent one or two); the flagged ones are not.
    const counted = log.filter((e) => !e.flags.includes('revenue_from_webhooks')).length;
    expect(counted).toBeLessThan(log.length);
    expect(await overview(app)).toMatchObject({ purchases: counted, revenue: 2.5 * counted });
  });
});

describe('Superwall', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const key = Buffer.from(secret.slice(6), 'base64');
  const sign = (id: string, ts: number, raw: string) =>
    `v1,${createHmac('sha256', key).update(`${id}.${ts}.${raw}`).digest('base64')}`;

  async function swApp() {
    const app = await createSdkApp(t);
    const r = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/superwall`, {
      auth: app.apiKey,
      body: { enabled: true, signingSecret: secret },
    });
    expect(r.status).toBe(200);
    return app;
  }
  function postSw(app: SdkApp, raw: string, h: { id: string; ts: number; sig: string }) {
    return fetch(`${t.url}/api/webhook/superwall/${app.appId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'svix-id': h.id,
        'svix-timestamp': String(h.ts),
        'svix-signature': h.sig,
      },
      body: raw,
    });
  }

  it('verifies the signature over the raw bytes and records the §5.2 trial once per svix-id', async () => {
    const app = await swApp();
    const deviceId = `dev-${randomBase62(8)}`;
    const raw = SW_TRIAL_START.replace('b3f1c2a4-5d6e-4f70-8a91-b2c3d4e5f607', deviceId);
    const id = `msg_${randomBase62(20)}`;
    const ts = Math.floor(Date.now() / 1000);
    const good = sign(id, ts, raw);

    expect((await postSw(app, raw, { id, ts, sig: 'v1,AAAA' })).status).toBe(401);
    expect((await postSw(app, `${raw} `, { id, ts, sig: good })).status).toBe(401);
    const stale = ts - 360;
    expect((await postSw(app, raw, { id, ts: stale, sig: sign(id, stale, raw) })).status).toBe(401);

    const first = await postSw(app, raw, { id, ts, sig: `v1,bm9wZQ== ${good}` });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ status: 'recorded' });
    const again = await postSw(app, raw, { id, ts, sig: good });
    expect(await again.json()).toEqual({ status: 'duplicate' });

    const log = await events(app, '&source=superwall');
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ eventName: 'start_trial', deviceId, source: 'superwall' });
  });

  it('accepts apprefer_id, and a negative price is a refund', async () => {
    const app = await swApp();
    const body = JSON.parse(SW_TRIAL_START);
    Object.assign(body.data, {
      name: 'renewal',
      periodType: 'NORMAL',
      price: -9.99,
      proceeds: -8.49,
      priceInPurchasedCurrency: -9.99,
      userAttributes: { apprefer_id: 'dev-underscore' },
    });
    const raw = JSON.stringify(body);
    const id = `msg_${randomBase62(20)}`;
    const ts = Math.floor(Date.now() / 1000);
    expect((await postSw(app, raw, { id, ts, sig: sign(id, ts, raw) })).status).toBe(200);
    const [e] = await events(app, '&source=superwall');
    expect(e).toMatchObject({
      eventName: 'refund',
      deviceId: 'dev-underscore',
      revenue: { amount: -9.99, currency: 'USD' },
    });
  });
});
