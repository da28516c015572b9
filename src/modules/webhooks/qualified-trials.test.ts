/**
 * Qualified trials (docs/spec/product.md §10) through the real webhook endpoint and a real database, with a
 * controllable clock: hold → qualified → forwarded, hold → disqualified, the raw trial start not
 * forwarded while the feature is on, the list API and the cron endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { randomBase62 } from '../../lib/crypto.ts';
import { metaFake, type Fake } from '../integrations/test-support.ts';
import { createSdkApp, insertClick, track, type SdkApp } from '../tracking/test-support.ts';
import { RC_TRIAL_CANCELLED, RC_TRIAL_START } from './fixtures.ts';
import { qualifyDueTrials } from './qualified-trials.ts';
import { webhookRetentionJob } from './retention.ts';

const CRON_SECRET = 'cron-secret-0123456789abcdef';
let t: TestServer;
let meta: Fake;

beforeAll(async () => {
  meta = await metaFake();
  t = await startTestServer({
    META_GRAPH_URL: `${meta.url}v24.0/`,
    FORWARD_RETRY_BASE_SECONDS: '1',
    CRON_SECRET,
  });
});
afterAll(async () => {
  await t?.close();
  await meta?.close();
});

const HOUR = 3_600_000;

type App = SdkApp & { secret: string };

async function setup(qualifiedTrials: Record<string, unknown> = { enabled: true }): Promise<App> {
  const app = await createSdkApp(t, { qualifiedTrials });
  const rc = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/revenuecat`, {
    auth: app.apiKey,
    body: { enabled: true },
  });
  await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/meta`, {
    auth: app.apiKey,
    body: {
      enabled: true,
      settings: { datasetId: '1234567890123456', accessToken: 'EAAB-meta-token-9f2c' },
    },
  });
  return { ...app, secret: rc.body.data.authorization.value };
}

async function device(app: SdkApp, fromMeta = true) {
  const deviceId = `dev-${randomBase62(10)}`;
  const clickId = fromMeta
    ? await insertClick(t.sql, {
        appId: app.appId,
        linkId: `lnk-${app.appId}`,
        network: 'meta',
        fbclid: `fb-${randomBase62(8)}`,
        ip: '203.0.113.9',
        userAgent: 'Mozilla/5.0 (iPhone)',
      })
    : undefined;
  const r = await track(t, 'configure', app.live, {
    device_id: deviceId,
    ...(clickId ? { ar_click_id: clickId } : {}),
    device_info: { platform: 'ios' },
  });
  expect(r.status).toBe(200);
  return deviceId;
}

/** Posts a §4.4 example for `deviceId`, purchased at `purchasedAt`, for subscription `sub`. */
async function post(
  app: App,
  base: string,
  deviceId: string,
  sub: string,
  patch: Record<string, unknown>,
) {
  const body = JSON.parse(base);
  Object.assign(body.event, {
    id: `evt-${randomBase62(12)}`,
    original_transaction_id: sub,
    transaction_id: sub,
    subscriber_attributes: { appreferId: { value: deviceId, updated_at_ms: 1 } },
    ...patch,
  });
  const r = await fetch(`${t.url}/api/webhook/revenuecat/${app.appId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: app.secret },
    body: JSON.stringify(body),
  });
  expect(r.status).toBe(200);
}

async function trials(app: SdkApp, query = '') {
  const r = await api(t, 'GET', `/api/v1/apps/${app.appId}/qualified-trials?${query}`, {
    auth: app.apiKey,
  });
  expect(r.status).toBe(200);
  return r.body.data as any[];
}
async function deliveries(app: SdkApp) {
  const r = await api(t, 'GET', `/api/v1/apps/${app.appId}/integrations/deliveries`, {
    auth: app.apiKey,
  });
  return r.body.data as any[];
}

describe('qualified trials', () => {
  it('hold → qualified → forwarded as StartTrial; the raw trial start is not forwarded', async () => {
    const app = await setup({ enabled: true, delayHours: 2 });
    const deviceId = await device(app);
    const start = Date.now() - 60_000;
    await post(app, RC_TRIAL_START, deviceId, `sub-${randomBase62(6)}`, {
      purchased_at_ms: start,
      event_timestamp_ms: start + 1000,
    });
    const [held] = await trials(app);
    expect(held).toMatchObject({
      deviceId,
      status: 'held',
      productId: 'fittrack_pro_annual',
      source: 'revenuecat',
      startedAt: new Date(start).toISOString(),
      dueAt: new Date(start + 2 * HOUR).toISOString(),
      decidedAt: null,
      attribution: { network: 'meta' },
    });
    const raw = await eventually(async () =>
      (await deliveries(app)).find((d) => d.eventName === 'start_trial'),
    );
    expect(raw).toMatchObject({
      status: 'skipped',
      error: 'trial start held for qualification (qualified trials on)',
    });

    // An hour in: still held.
    expect(await qualifyDueTrials(t.sql, new Date(start + HOUR))).toEqual({
      qualified: 0,
      forwarded: 0,
    });
    expect((await trials(app))[0].status).toBe('held');
    // Past the delay: the first run qualifies and forwards it.
    const run = await qualifyDueTrials(t.sql, new Date(start + 2 * HOUR + 1000));
    expect(run.forwarded).toBeGreaterThanOrEqual(1);
    const [done] = await trials(app);
    expect(done).toMatchObject({ status: 'forwarded', reason: null });
    expect(done.qualifiedEventId).toMatch(/^evt_/);

    const ev = await api(t, 'GET', `/api/v1/apps/${app.appId}/events?eventName=qualified_trial`, {
      auth: app.apiKey,
    });
    expect(ev.body.data).toEqual([
      expect.objectContaining({ id: done.qualifiedEventId, source: 'system', deviceId }),
    ]);
    const sent = await eventually(async () =>
      (await deliveries(app)).find(
        (d) => d.eventId === done.qualifiedEventId && d.status === 'delivered',
      ),
    );
    expect(sent.networkEventName).toBe('StartTrial');
    expect(meta.received.some((r) => JSON.stringify(r.body).includes(sent.forwardId))).toBe(true);

    // The qualified trial counts on its due day, which may be tomorrow in the app's time zone
    // (the default period ends today): a period around both days.
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const period = `from=${day(start - 2 * 24 * HOUR)}&to=${day(start + 2 * 24 * HOUR)}`;
    const kpis = (
      await api(t, 'GET', `/api/v1/apps/${app.appId}/overview?${period}`, { auth: app.apiKey })
    ).body.data.kpis;
    expect(kpis).toMatchObject({ trials: 1, qualifiedTrials: 1 });
    // Running again changes nothing.
    await qualifyDueTrials(t.sql, new Date(start + 5 * HOUR));
    const again = await api(
      t,
      'GET',
      `/api/v1/apps/${app.appId}/events?eventName=qualified_trial`,
      { auth: app.apiKey },
    );
    expect(again.body.data).toHaveLength(1);
  });

  it('a cancellation during the hold disqualifies; it is never forwarded', async () => {
    const app = await setup({ enabled: true, delayHours: 2 });
    const deviceId = await device(app);
    const sub = `sub-${randomBase62(6)}`;
    const start = Date.now() - 60_000;
    await post(app, RC_TRIAL_START, deviceId, sub, { purchased_at_ms: start });
    await post(app, RC_TRIAL_CANCELLED, deviceId, sub, {
      purchased_at_ms: start,
      event_timestamp_ms: start + 30 * 60_000,
    });
    const [q] = await trials(app);
    expect(q).toMatchObject({
      status: 'disqualified',
      reason: 'cancelled during the hold (UNSUBSCRIBE)',
    });
    expect(q.decidedAt).not.toBeNull();
    await qualifyDueTrials(t.sql, new Date(start + 3 * HOUR));
    expect((await trials(app))[0].status).toBe('disqualified');
    expect((await trials(app, 'status=disqualified')).length).toBe(1);
    expect((await trials(app, 'status=forwarded')).length).toBe(0);
    const ev = await api(t, 'GET', `/api/v1/apps/${app.appId}/events?eventName=qualified_trial`, {
      auth: app.apiKey,
    });
    expect(ev.body.data).toEqual([]);
  });

  it('a cancellation that happened after the hold ended is too late; a fractional delay works', async () => {
    const app = await setup({ enabled: true, delayHours: 0.5 });
    const deviceId = await device(app);
    const sub = `sub-${randomBase62(6)}`;
    const start = Date.now() - 60_000;
    await post(app, RC_TRIAL_START, deviceId, sub, { purchased_at_ms: start });
    expect((await trials(app))[0].dueAt).toBe(new Date(start + HOUR / 2).toISOString());
    await post(app, RC_TRIAL_CANCELLED, deviceId, sub, {
      purchased_at_ms: start,
      event_timestamp_ms: start + HOUR,
    });
    expect((await trials(app))[0].status).toBe('held');
    await qualifyDueTrials(t.sql, new Date(start + HOUR));
    expect((await trials(app))[0].status).toBe('forwarded');
  });

  it('an organic trial qualifies but has nothing to forward, and says why', async () => {
    const app = await setup({ enabled: true, delayHours: 1 });
    const deviceId = await device(app, false);
    const start = Date.now() - 60_000;
    await post(app, RC_TRIAL_START, deviceId, `sub-${randomBase62(6)}`, { purchased_at_ms: start });
    await qualifyDueTrials(t.sql, new Date(start + 2 * HOUR));
    const [q] = await trials(app);
    expect(q.status).toBe('qualified');
    expect(q.reason).toMatch(/^not forwarded/);
  });

  it('with the feature off the trial start is forwarded at once and nothing is held', async () => {
    const app = await setup({ enabled: false });
    const deviceId = await device(app);
    await post(app, RC_TRIAL_START, deviceId, `sub-${randomBase62(6)}`, {
      purchased_at_ms: Date.now() - 60_000,
    });
    expect(await trials(app)).toEqual([]);
    const d = await eventually(async () =>
      (await deliveries(app)).find(
        (x) => x.eventName === 'start_trial' && x.status === 'delivered',
      ),
    );
    expect(d.networkEventName).toBe('StartTrial');
  });

  it('POST /api/cron/qualified-trials needs the bearer CRON_SECRET and decides due trials', async () => {
    const app = await setup({ enabled: true, delayHours: 0 });
    const deviceId = await device(app);
    await post(app, RC_TRIAL_START, deviceId, `sub-${randomBase62(6)}`, {
      purchased_at_ms: Date.now() - 1000,
    });
    const cron = (authorization?: string) =>
      fetch(`${t.url}/api/cron/qualified-trials`, {
        method: 'POST',
        headers: authorization ? { authorization } : {},
      });
    expect((await cron()).status).toBe(401);
    expect((await cron('Bearer wrong-secret-0123456789')).status).toBe(401);
    const ok = await cron(`Bearer ${CRON_SECRET}`);
    expect(ok.status).toBe(200);
    // The server's own job runs every QUALIFIED_TRIALS_INTERVAL_SECONDS (300): this call decided it.
    expect(await ok.json()).toEqual({ data: { qualified: 0, forwarded: 1 } });
    expect((await trials(app))[0].status).toBe('forwarded');
    const [q] = await trials(app);
    const ev = await api(t, 'GET', `/api/v1/apps/${app.appId}/events?eventName=qualified_trial`, {
      auth: app.apiKey,
    });
    expect(ev.body.data.map((e: any) => e.id)).toEqual([q.qualifiedEventId]);
  });

  it('retention: deliveries and decided trials older than 30 days go; held and recent ones stay', async () => {
    const app = await setup({ enabled: true, delayHours: 2 });
    const deviceId = await device(app);
    for (const sub of ['old-decided', 'old-held', 'recent'])
      await post(app, RC_TRIAL_START, deviceId, `${sub}-${randomBase62(4)}`, {
        purchased_at_ms: Date.now() - 60_000,
      });
    const age = (days: number) => new Date(Date.now() - days * 86_400_000);
    await t.sql`update webhook_events set received_at = ${age(31)} where app_id = ${app.appId} and raw::text like '%old-%'`;
    await t.sql`update qualified_trials set created_at = ${age(31)}, status = case when subscription_key like 'old-decided%' then 'disqualified' else status end
                where app_id = ${app.appId} and subscription_key like 'old-%'`;
    await webhookRetentionJob(undefined, { services: { sql: t.sql } } as never);
    const hooks =
      await t.sql`select raw::text as raw from webhook_events where app_id = ${app.appId}`;
    expect(hooks.map((h) => h.raw.includes('recent'))).toEqual([true]);
    const kept =
      await t.sql`select subscription_key from qualified_trials where app_id = ${app.appId} order by seq`;
    expect(kept.map((k) => k.subscription_key.replace(/-[^-]+$/, ''))).toEqual([
      'old-held',
      'recent',
    ]);
  });
});
