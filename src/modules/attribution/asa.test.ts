/**
 * Apple Search Ads through a fake AdServices server on 127.0.0.1: answered in time, late, 404,
 * 500, 400. The configure response never waits on Apple past the time box; the background job
 * finishes the attribution and updates the stored record.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { loadConfig } from '../../config.ts';
import { buildServer } from '../../http/server.ts';
import { MODULES } from '../index.ts';
import { createServices } from '../../runtime.ts';
import {
  createSdkApp,
  eventually,
  insertClick,
  startAppleFake,
  track,
  APPLE_TOKEN as TOKEN,
  APPLE_ATTRIBUTED as ATTRIBUTED,
  type SdkApp,
} from '../tracking/test-support.ts';
import { JOBS } from '../../jobs.ts';
import { startJobRunner } from '../../queue/runner.ts';
import { makeJobsDue } from '../../queue/test-support.ts';
import { ASA_RESOLVE_TASK, nextAttemptAt } from './asa-resolution.ts';

let t: TestServer;
let app: SdkApp;
let apple: Awaited<ReturnType<typeof startAppleFake>>;
beforeAll(async () => {
  apple = await startAppleFake();
  t = await startTestServer({ APPLE_ADSERVICES_URL: apple.url });
  app = await createSdkApp(t);
});
afterAll(async () => {
  await t?.close();
  await apple?.close();
});
beforeEach(() => {
  apple.script.length = 0;
  apple.state.fallback = { status: 200, body: { attribution: false } };
});

let n = 0;
const dev = () => `asa-device-${++n}-${Math.random().toString(36).slice(2)}`;
const ios = { platform: 'ios', os_version: '17.5.1', locale: 'en_US' };
const stored = async (deviceId: string) =>
  (await t.sql`select * from attributions where device_id = ${deviceId}`)[0];
const resolved = (deviceId: string) =>
  eventually(async () => {
    const a = await stored(deviceId);
    return a?.status === 'resolved' ? a : null;
  }, 45_000);

describe('Apple answers inside the time box', () => {
  it('attributed → adservices / apple_search_ads with string ids; the token is sent byte for byte as text/plain', async () => {
    apple.script.push({ status: 200, body: ATTRIBUTED });
    const d = dev();
    const r = await track(t, 'configure', app.live, {
      device_id: d,
      asa_token: TOKEN,
      device_info: ios,
    });
    expect(r.json.attribution).toMatchObject({
      network: 'apple_search_ads',
      match_type: 'adservices',
      campaign_id: '542370539',
      ad_group_id: '542317095',
      ad_id: '542317136',
      keyword: '87675432',
      query_params: {},
      customData: {},
    });
    expect(apple.received.at(-1)).toEqual({ token: TOKEN, contentType: 'text/plain' });
    expect(await stored(d)).toMatchObject({ status: 'resolved', country: 'US' });
  });

  it('attribution:false → the waterfall continues (organic here)', async () => {
    const r = await track(t, 'configure', app.live, {
      device_id: dev(),
      asa_token: TOKEN,
      device_info: ios,
    });
    expect(r.json.attribution.match_type).toBe('organic');
  });

  it('400 (invalid token) → the waterfall continues to the device id rule', async () => {
    apple.script.push({ status: 400 });
    const idfa = '6D92078A-8246-4BA4-AE5B-76104861E7DC';
    await insertClick(t.sql, { appId: app.appId, idfa, network: 'meta' });
    const r = await track(t, 'configure', app.live, {
      device_id: dev(),
      asa_token: TOKEN,
      idfa,
      device_info: ios,
    });
    expect(r.json.attribution).toMatchObject({ match_type: 'device_id', network: 'meta' });
  });

  it('a click id match does not ask Apple at all', async () => {
    const before = apple.received.length;
    const id = await insertClick(t.sql, { appId: app.appId });
    const r = await track(t, 'configure', app.live, {
      device_id: dev(),
      asa_token: TOKEN,
      ar_click_id: id,
      device_info: ios,
    });
    expect(r.json.attribution.match_type).toBe('click_id');
    expect(apple.received.length).toBe(before);
  });
});

describe('Apple does not answer in time', () => {
  it('late: configure answers undetermined (attribution null); the background job stores adservices later; repeats stay stable', async () => {
    apple.script.push({ status: 200, body: ATTRIBUTED, delayMs: 4_000 });
    apple.state.fallback = { status: 200, body: ATTRIBUTED };
    const d = dev();
    const r = await track(t, 'configure', app.live, {
      device_id: d,
      asa_token: TOKEN,
      device_info: ios,
    });
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"sdkEnabled":true,"sdk_enabled":true,"attribution":null}');
    const pending = await stored(d);
    expect(pending.status).toBe('pending');
    const repeat = await track(t, 'configure', app.live, {
      device_id: d,
      asa_token: TOKEN,
      device_info: ios,
    });
    expect(repeat.json.attribution).toBeNull();

    const done = await resolved(d);
    expect(done).toMatchObject({
      id: pending.id,
      network: 'apple_search_ads',
      match_type: 'adservices',
      campaign_id: '542370539',
      keyword: '87675432',
    });
    const [job] =
      await t.sql`select state, token, signals->'signals'->>'ip' as ip from asa_resolutions where attribution_id = ${pending.id}`;
    expect(job).toEqual({ state: 'attributed', token: '', ip: null });
    // The install event was recorded once, at configure time.
    const [installs] =
      await t.sql`select count(*)::int as n from events where device_id = ${d} and event_name = 'install'`;
    expect(installs.n).toBe(1);
    // A configure after resolution returns the Apple attribution with the same id.
    const after = await track(t, 'configure', app.live, { device_id: d, device_info: ios });
    expect(after.json.attribution).toMatchObject({
      attribution_id: pending.id,
      match_type: 'adservices',
    });
  });

  it('404 (record not available yet), then attributed', async () => {
    apple.script.push({ status: 404 }, { status: 404 });
    apple.state.fallback = { status: 200, body: ATTRIBUTED };
    const d = dev();
    const r = await track(t, 'configure', app.live, {
      device_id: d,
      asa_token: TOKEN,
      device_info: ios,
    });
    expect(r.json.attribution).toBeNull();
    const done = await resolved(d);
    expect(done.match_type).toBe('adservices');
    const [job] =
      await t.sql`select state, not_found_count from asa_resolutions where attribution_id = ${done.id}`;
    expect(job).toEqual({ state: 'attributed', not_found_count: 2 });
  });

  it('500, then "not attributed": the background job finishes the waterfall (probabilistic here)', async () => {
    apple.script.push({ status: 500 });
    apple.state.fallback = { status: 200, body: { attribution: false } };
    const ip = '192.0.2.44';
    await insertClick(t.sql, {
      appId: app.appId,
      ip,
      platform: 'ios',
      osVersion: '17.5',
      language: 'en-US',
      campaign: 'ip-match',
    });
    const d = dev();
    const r = await track(
      t,
      'configure',
      app.live,
      { device_id: d, asa_token: TOKEN, device_info: ios },
      { 'x-forwarded-for': ip },
    );
    expect(r.json.attribution).toBeNull();
    // 500 backs off a minute: make the job due now instead of waiting.
    await makeJobsDue(t.sql, ASA_RESOLVE_TASK);
    const done = await resolved(d);
    expect(done).toMatchObject({ match_type: 'probabilistic', campaign: 'ip-match' });
    expect(done.explanation.asa).toBe('not_attributed');
  });

  it('gives up 24 h after the token was received: expired, and the install falls through to organic', async () => {
    apple.script.push({ status: 500 });
    apple.state.fallback = { status: 500 };
    const d = dev();
    await track(t, 'configure', app.live, { device_id: d, asa_token: TOKEN, device_info: ios });
    await t.sql`update asa_resolutions set received_at = received_at - interval '25 hours' where app_id = ${app.appId} and state = 'pending'`;
    await makeJobsDue(t.sql, ASA_RESOLVE_TASK);
    const done = await resolved(d);
    expect(done).toMatchObject({ match_type: 'organic', network: 'organic' });
    const [job] = await t.sql`select state from asa_resolutions where attribution_id = ${done.id}`;
    expect(job.state).toBe('expired');
  });
});

describe('restarts', () => {
  it('a pending lookup survives a restart: the next server process finishes it', async () => {
    const db = await createTestDatabase();
    const config = loadConfig({
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'apprefer-asa-')),
      SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789',
      LOG_LEVEL: 'silent',
      DATABASE_URL: db.url,
      APPLE_ADSERVICES_URL: apple.url,
    });
    const start = async () => {
      const services = createServices(config, db.sql, pino({ level: 'silent' }));
      const server = await buildServer(services, MODULES);
      const jobs = await startJobRunner(services, JOBS);
      await server.listen({ port: 0, host: '127.0.0.1' });
      const { port } = server.server.address() as { port: number };
      const close = async () => {
        await Promise.all([server.close(), jobs.stop()]);
      };
      return {
        app: server,
        sql: db.sql,
        config,
        url: `http://127.0.0.1:${port}`,
        close,
      } as TestServer;
    };
    try {
      const first = await start();
      const a = await createSdkApp(first);
      apple.state.fallback = { status: 500 };
      const d = dev();
      const r = await track(first, 'configure', a.live, {
        device_id: d,
        asa_token: TOKEN,
        device_info: ios,
      });
      expect(r.json.attribution).toBeNull();
      await first.close(); // the process stops with the lookup still pending

      apple.state.fallback = { status: 200, body: ATTRIBUTED };
      await makeJobsDue(db.sql, ASA_RESOLVE_TASK);
      const second = await start();
      try {
        const done = await eventually(async () => {
          const [row] = await db.sql`select * from attributions where device_id = ${d}`;
          return row?.status === 'resolved' ? row : null;
        }, 45_000);
        expect(done.match_type).toBe('adservices');
      } finally {
        await second.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe('retry schedule', () => {
  it('404s retry 5 s apart three times, then back off; errors back off from a minute; nothing after 24 h', () => {
    const received = new Date('2026-11-23T00:00:00Z');
    const at = (ms: number) => new Date(received.getTime() + ms);
    expect(nextAttemptAt({ kind: 'not_found' }, 1, 1, received, at(0))).toEqual(at(5_000));
    expect(nextAttemptAt({ kind: 'not_found' }, 2, 2, received, at(5_000))).toEqual(at(10_000));
    expect(nextAttemptAt({ kind: 'not_found' }, 3, 3, received, at(10_000))).toEqual(at(70_000));
    expect(
      nextAttemptAt({ kind: 'unavailable', detail: 'HTTP 500' }, 1, 0, received, at(0)),
    ).toEqual(at(60_000));
    expect(
      nextAttemptAt({ kind: 'unavailable', detail: 'HTTP 500' }, 2, 0, received, at(60_000)),
    ).toEqual(at(360_000));
    expect(
      nextAttemptAt({ kind: 'unavailable', detail: 'HTTP 500' }, 9, 0, received, at(23 * 3600_000)),
    ).toBeNull();
  });
});
