/** HTTP rules common to both SDK endpoints (docs/spec/sdk-protocol.md §3): real server, real database. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { createSdkApp, eventually, sdkPost, track, type SdkApp } from './test-support.ts';
import { sdkLoadOf } from './routes.ts';

let t: TestServer;
let app: SdkApp;
beforeAll(async () => {
  t = await startTestServer();
  app = await createSdkApp(t);
});
afterAll(() => t?.close());

const expectJsonHeaders = (r: { headers: Headers }) => {
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(r.headers.get('cache-control')).toBe('no-store');
};

describe('routing', () => {
  it('other methods get 405 with Allow: POST, never a redirect', async () => {
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      for (const path of ['/api/track/configure', '/api/track/event']) {
        const r = await sdkPost(t, path, '', {}, method);
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.headers.get('allow')).toBe('POST');
        expectJsonHeaders(r);
        expect(r.json).toEqual({
          error: { code: 'method_not_allowed', message: expect.any(String) },
        });
      }
    }
  });

  it('HEAD is a 405 too', async () => {
    const r = await fetch(`${t.url}/api/track/configure`, { method: 'HEAD' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
  });

  it('a trailing slash is served by the same handler', async () => {
    const r = await track(t, 'event', app.live, { device_id: 'slash-device', event_name: 'x' });
    expect(r.status).toBe(200);
    const s = await sdkPost(
      t,
      '/api/track/event/',
      JSON.stringify({ device_id: 'slash-device', event_name: 'y' }),
      { 'content-type': 'application/json', 'x-apprefer-key': app.live },
    );
    expect(s.status).toBe(200);
  });

  it('unknown paths are 404 JSON', async () => {
    const r = await sdkPost(t, '/api/track/nope', '{}', { 'x-apprefer-key': app.live });
    expect(r.status).toBe(404);
    expectJsonHeaders(r);
    expect(r.json.error.code).toBe('not_found');
  });
});

describe('authentication', () => {
  const body = JSON.stringify({ device_id: 'auth-device', event_name: 'e' });

  it('401 invalid_sdk_key for unknown, malformed or missing keys', async () => {
    const variants: Record<string, string>[] = [
      { 'x-apprefer-key': 'pk_live_000000000000000000000000' },
      { 'x-apprefer-key': 'pk_test' },
      { 'x-apprefer-key': 'garbage' },
      {},
    ];
    for (const headers of variants) {
      const r = await sdkPost(t, '/api/track/event', body, {
        'content-type': 'application/json',
        ...headers,
      });
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expectJsonHeaders(r);
      expect(r.json.error.code).toBe('invalid_sdk_key');
    }
  });

  it('header names are case-insensitive; Authorization is ignored', async () => {
    const r = await sdkPost(t, '/api/track/event', body, {
      'Content-Type': 'application/json',
      'X-APPREFER-KEY': app.live,
      Authorization: 'Bearer nonsense',
    });
    expect(r.status).toBe(200);
  });

  it('legacy 0.1.0: X-App-Id or body app_id selects the app, live environment; the key wins over both', async () => {
    const r1 = await sdkPost(
      t,
      '/api/track/configure',
      JSON.stringify({ device_id: 'legacy-1', app_id: app.appId }),
      { 'content-type': 'application/json', 'x-app-id': app.appId },
    );
    expect(r1.status).toBe(200);
    const r2 = await sdkPost(
      t,
      '/api/track/event',
      JSON.stringify({ device_id: 'legacy-1', event_name: 'e', app_id: app.appId }),
      { 'content-type': 'application/json' },
    );
    expect(r2.status).toBe(200);
    const [d] =
      await t.sql`select environment from devices where app_id = ${app.appId} and device_id = 'legacy-1'`;
    expect(d.environment).toBe('live');
    const r3 = await sdkPost(
      t,
      '/api/track/event',
      JSON.stringify({ device_id: 'legacy-2', event_name: 'e' }),
      { 'content-type': 'application/json', 'x-app-id': 'app_nope' },
    );
    expect(r3.status).toBe(401);
    const r4 = await sdkPost(
      t,
      '/api/track/event',
      JSON.stringify({ device_id: 'key-wins', event_name: 'e' }),
      { 'content-type': 'application/json', 'x-app-id': 'app_nope', 'x-apprefer-key': app.test },
    );
    expect(r4.status).toBe(200);
    const [k] =
      await t.sql`select environment from devices where app_id = ${app.appId} and device_id = 'key-wins'`;
    expect(k.environment).toBe('sandbox');
  });

  it('a legacy alias set by the owner is accepted', async () => {
    const other = await createSdkApp(t, { legacyAppId: 'fittrack-legacy' });
    const r = await sdkPost(t, '/api/track/configure', JSON.stringify({ device_id: 'alias-1' }), {
      'content-type': 'application/json',
      'x-app-id': 'fittrack-legacy',
    });
    expect(r.status).toBe(200);
    const [d] = await t.sql`select app_id from devices where device_id = 'alias-1'`;
    expect(d.app_id).toBe(other.appId);
  });

  it('an archived app is a 401; the kill switch answers 200 and is picked up without restart', async () => {
    const a = await createSdkApp(t);
    expect((await track(t, 'configure', a.live, { device_id: 'before-kill' })).status).toBe(200);
    const off = await api(t, 'PATCH', `/api/v1/apps/${a.appId}`, {
      auth: a.apiKey,
      body: { sdkEnabled: false },
    });
    expect(off.status).toBe(200);
    // The change reaches the key cache through NOTIFY: poll with a fresh device each time.
    let attempt = 0;
    const killed = await eventually(async () => {
      const r = await track(t, 'configure', a.live, { device_id: `after-kill-${++attempt}` });
      return r.json.sdkEnabled === false ? r : null;
    });
    expect(killed.status).toBe(200);
    expect(killed.text).toBe('{"sdkEnabled":false,"sdk_enabled":false,"attribution":null}');
    const [none] =
      await t.sql`select count(*)::int as n from devices where app_id = ${a.appId} and device_id = ${`after-kill-${attempt}`}`;
    expect(none.n).toBe(0);
    // An install from before keeps sending events: kept, flagged.
    expect(
      (await track(t, 'event', a.live, { device_id: 'before-kill', event_name: 'late' })).status,
    ).toBe(200);
    const [ev] =
      await t.sql`select flags from events where app_id = ${a.appId} and event_name = 'late'`;
    expect(ev.flags).toEqual(['after_kill_switch']);

    await api(t, 'PATCH', `/api/v1/apps/${a.appId}`, { auth: a.apiKey, body: { archived: true } });
    await eventually(
      async () =>
        (await track(t, 'event', a.live, { device_id: 'x', event_name: 'e' })).status === 401,
    );
  });
});

describe('body decoding and leniency', () => {
  const hdr = () => ({ 'x-apprefer-key': app.live });

  it('invalid JSON, arrays, strings, null and empty bodies → 400 invalid_json', async () => {
    for (const raw of ['{', '[]', '"text"', 'null', '', '42']) {
      const r = await sdkPost(t, '/api/track/event', raw, {
        ...hdr(),
        'content-type': 'application/json',
      });
      expect(r.status, raw).toBe(400);
      expectJsonHeaders(r);
      expect(r.json.error.code).toBe('invalid_json');
    }
  });

  it('missing, empty or non-string required fields → 400 validation_error naming the field', async () => {
    const cases: [string, unknown][] = [
      ['configure', {}],
      ['configure', { device_id: '' }],
      ['configure', { device_id: 42 }],
      ['configure', { device_id: null }],
      ['event', { device_id: 'd' }],
      ['event', { event_name: 'e' }],
      ['event', { device_id: 'd', event_name: '' }],
      ['event', { device_id: 'd', event_name: ['x'] }],
    ];
    for (const [kind, body] of cases) {
      const r = await track(t, kind as 'event', app.live, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe('validation_error');
      expect(r.json.error.message).toMatch(
        kind === 'configure' || !(body as any).device_id ? /device_id/ : /event_name/,
      );
    }
  });

  it('text/plain, a missing content type and any charset are parsed as UTF-8 JSON', async () => {
    const body = Buffer.from(
      JSON.stringify({ device_id: 'ct-device', event_name: 'café ☕ 🎉' }),
      'utf8',
    );
    for (const ct of [
      'text/plain',
      'application/json; charset=iso-8859-1',
      'application/x-www-form-urlencoded',
      undefined,
    ]) {
      const headers: Record<string, string> = { ...hdr() };
      if (ct) headers['content-type'] = ct;
      const r = await sdkPost(t, '/api/track/event', body, headers);
      expect(r.status, String(ct)).toBe(200);
    }
    const rows =
      await t.sql`select distinct event_name from events where app_id = ${app.appId} and device_id = 'ct-device'`;
    expect(rows.map((r) => r.event_name)).toEqual(['café ☕ 🎉']);
  });

  it('null is absent at every depth, wrong types on optional fields are ignored, unknown keys too', async () => {
    const r = await track(t, 'configure', app.live, {
      device_id: 'lenient-1',
      device_info: null,
      asa_token: 5,
      idfa: '',
      gaid: { x: 1 },
      install_referrer: [],
      ar_click_id: '',
      referrer_click_ts: 'yesterday',
      customer_user_id: null,
      future_key: { nested: true },
      sdk_version: 1,
    });
    expect(r.status).toBe(200);
    expect(r.json.attribution.match_type).toBe('organic');
    const [d] = await t.sql`select platform, idfa, gaid from devices where device_id = 'lenient-1'`;
    expect(d).toEqual({ platform: 'unknown', idfa: null, gaid: null });
  });

  it('exponents, huge and non-finite numbers are accepted (1e400 counts as absent)', async () => {
    const raw =
      '{"device_id":"num-1","event_name":"purchase","revenue":1e400,"currency":"usd","properties":{"a":1.7976931348623157E308,"b":1e-3,"c":1e400}}';
    const r = await sdkPost(t, '/api/track/event', raw, {
      ...hdr(),
      'content-type': 'application/json',
    });
    expect(r.status).toBe(200);
    const [e] = await t.sql`select revenue, properties from events where device_id = 'num-1'`;
    expect(e.revenue).toBeNull();
    expect(e.properties).toEqual({ a: 1.7976931348623157e308, b: 0.001, c: null });
  });

  it('NUL characters and lone surrogates never reach the database as errors', async () => {
    const raw =
      '{"device_id":"weird-\\u0000-\\ud800","event_name":"bad\\u0000name","properties":{"k\\u0000":"\\udc00x","deep":' +
      '['.repeat(200) +
      ']'.repeat(200) +
      '}}';
    const r = await sdkPost(t, '/api/track/event', raw, {
      ...hdr(),
      'content-type': 'application/json',
    });
    expect(r.status, r.text).toBe(200);
    const [e] =
      await t.sql`select device_id, event_name, properties->>'k' as k from events where event_name = 'badname'`;
    expect(e).toEqual({ device_id: 'weird--\ufffd', event_name: 'badname', k: '\ufffdx' });
  });

  it('device_id is stored verbatim and case-sensitively', async () => {
    for (const id of ['ABC-def', 'abc-def', ' spaced ', 'session_9f8e']) {
      expect((await track(t, 'configure', app.live, { device_id: id })).status).toBe(200);
    }
    const rows =
      await t.sql`select device_id from devices where app_id = ${app.appId} and device_id = any(${['ABC-def', 'abc-def', ' spaced ', 'session_9f8e']})`;
    expect(rows).toHaveLength(4);
  });

  it('bodies up to 1 MiB are accepted; larger get 413', async () => {
    const pad = 'x'.repeat(1024 * 1024 - 200);
    const ok = await sdkPost(
      t,
      '/api/track/event',
      JSON.stringify({ device_id: 'big', event_name: 'big', properties: { pad } }),
      { ...hdr(), 'content-type': 'application/json' },
    );
    expect(ok.status).toBe(200);
    const tooBig = await sdkPost(
      t,
      '/api/track/event',
      JSON.stringify({
        device_id: 'big',
        event_name: 'big',
        properties: { pad: pad + 'x'.repeat(1000) },
      }),
      { ...hdr(), 'content-type': 'application/json' },
    );
    expect(tooBig.status).toBe(413);
    expectJsonHeaders(tooBig);
    expect(tooBig.json.error.code).toBe('payload_too_large');
  });

  it('too long ids: device_id / event_name over the documented maximum are a 400, never a 5xx', async () => {
    const r = await track(t, 'event', app.live, {
      device_id: 'd',
      event_name: 'n'.repeat(100 * 1024),
    });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/event_name/);
    const r2 = await track(t, 'configure', app.live, { device_id: 'd'.repeat(300) });
    expect(r2.status).toBe(200); // 256 characters must be accepted; 300 is fine too
    const r3 = await track(t, 'configure', app.live, { device_id: 'd'.repeat(5000) });
    expect(r3.status).toBe(400);
  });

  it('Android\'s "{}" for a NaN revenue is a 400, and a NaN-like revenue string is ignored', async () => {
    expect((await track(t, 'event', app.live, {})).status).toBe(400);
    // A literal NaN / Infinity is not JSON: 400 invalid_json, never a 5xx.
    for (const literal of ['NaN', 'Infinity', '-Infinity']) {
      const raw = `{"device_id":"nan","event_name":"purchase","revenue":${literal},"currency":"USD"}`;
      const bad = await sdkPost(t, '/api/track/event', raw, {
        'content-type': 'application/json',
        'x-apprefer-key': app.live,
      });
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe('invalid_json');
    }
    const r = await track(t, 'event', app.live, {
      device_id: 'nan',
      event_name: 'purchase',
      revenue: 'NaN',
      currency: 'USD',
    });
    expect(r.status).toBe(200);
    const [e] = await t.sql`select revenue, revenue_raw from events where device_id = 'nan'`;
    expect(e).toEqual({ revenue: null, revenue_raw: 'NaN' });
  });
});

describe('database outage', () => {
  it('answers 503 with Retry-After, quickly, when the store is unreachable', async () => {
    const t2 = await startTestServer();
    const a = await createSdkApp(t2);
    expect((await track(t2, 'event', a.live, { device_id: 'd', event_name: 'warm' })).status).toBe(
      200,
    );
    await t2.sql.end({ timeout: 1 });
    await sdkLoadOf(t2.app.server)!.ingest.end({ timeout: 1 }); // the SDK's own pool (key lookups)
    for (const kind of ['event', 'configure'] as const) {
      const r = await track(t2, kind, a.live, { device_id: 'd2', event_name: 'e' });
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBeTruthy();
      expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(r.json.error.code).toBe('service_unavailable');
    }
    await t2.app.close();
  });
});
