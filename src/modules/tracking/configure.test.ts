/** configure over HTTP: the waterfall against stored clicks, idempotency, reinstall, sandbox isolation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/helpers.ts';
import { createSdkApp, insertClick, track, type SdkApp } from './test-support.ts';

let t: TestServer;
let app: SdkApp;
beforeAll(async () => {
  t = await startTestServer();
  app = await createSdkApp(t);
});
afterAll(() => t?.close());

let seq = 0;
const dev = () => `device-${++seq}-${Math.random().toString(36).slice(2)}`;
const fromIp = (ip: string) => ({ 'x-forwarded-for': ip });
const iosInfo = {
  platform: 'ios',
  os_version: '17.5.1',
  locale: 'en_US',
  timezone: 'America/Los_Angeles',
  model: 'iPhone15,2',
  bundle_id: 'com.example.fittrack',
};
const attributionOf = async (deviceId: string) =>
  (await t.sql`select * from attributions where device_id = ${deviceId}`)[0];

describe('click id', () => {
  it('matches ar_click_id and returns the click campaign fields, query params and the link custom data', async () => {
    const id = await insertClick(t.sql, {
      appId: app.appId,
      network: 'meta',
      campaign: 'summer_launch',
      campaignId: '120214455667788001',
      campaignName: 'Summer Launch',
      adGroupId: '120214455667788002',
      adId: '120214455667788003',
      fbclid: 'IwAR3kLm',
      queryParams: { fbclid: 'IwAR3kLm', campaign_id: '120214455667788001', invite_code: 'K7P2QX' },
      linkCustomData: { screen: 'paywall', offer: 'trial7' },
    });
    const d = dev();
    const r = await track(t, 'configure', app.live, {
      device_id: d,
      ar_click_id: id,
      device_info: { platform: 'web' },
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      sdkEnabled: true,
      sdk_enabled: true,
      attribution: {
        network: 'meta',
        campaign: 'summer_launch',
        match_type: 'click_id',
        attribution_id: expect.stringMatching(/^att_/),
        campaign_id: '120214455667788001',
        campaign_name: 'Summer Launch',
        ad_group_id: '120214455667788002',
        ad_id: '120214455667788003',
        keyword: null,
        fbclid: 'IwAR3kLm',
        gclid: null,
        ttclid: null,
        query_params: {
          fbclid: 'IwAR3kLm',
          campaign_id: '120214455667788001',
          invite_code: 'K7P2QX',
        },
        customData: { screen: 'paywall', offer: 'trial7' },
        custom_data: { screen: 'paywall', offer: 'trial7' },
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      },
    });
    const a = await attributionOf(d);
    expect(a).toMatchObject({
      click_id: id,
      link_id: `link-${app.appId}`,
      match_type: 'click_id',
      status: 'resolved',
      environment: 'live',
    });
    expect(a.explanation).toMatchObject({ rule: 'click_id', candidates: 1, windowHours: 168 });
  });

  it('parses the click id from the Play referrer when the body has none (and double-encoded referrers)', async () => {
    const id = await insertClick(t.sql, { appId: app.appId, network: 'tiktok', ttclid: 'E.C.P.x' });
    const d = dev();
    const r = await track(t, 'configure', app.live, {
      device_id: d,
      ar_click_id: '',
      install_referrer: `ar_click_id%3D${id}%26utm_source%3Dtiktok`,
      device_info: { platform: 'android' },
      referrer_click_ts: 0,
    });
    expect(r.json.attribution).toMatchObject({
      match_type: 'click_id',
      network: 'tiktok',
      ttclid: 'E.C.P.x',
    });
  });

  it('window edges: a click just inside the 7-day window matches, just outside does not', async () => {
    const inside = await insertClick(t.sql, { appId: app.appId, minutesAgo: 7 * 24 * 60 - 2 });
    const outside = await insertClick(t.sql, { appId: app.appId, minutesAgo: 7 * 24 * 60 + 2 });
    const a = await track(t, 'configure', app.live, { device_id: dev(), ar_click_id: inside });
    const b = await track(t, 'configure', app.live, { device_id: dev(), ar_click_id: outside });
    expect(a.json.attribution.match_type).toBe('click_id');
    expect(b.json.attribution.match_type).toBe('organic');
  });

  it('bot clicks are never attributed', async () => {
    const id = await insertClick(t.sql, { appId: app.appId, isBot: true });
    const r = await track(t, 'configure', app.live, { device_id: dev(), ar_click_id: id });
    expect(r.json.attribution.match_type).toBe('organic');
  });

  it('a Google referrer with gclid but no platform click → referrer / google', async () => {
    const r = await track(t, 'configure', app.live, {
      device_id: dev(),
      device_info: { platform: 'android' },
      install_referrer:
        'gclid=Cj0KCQjw-_mv&utm_source=google&utm_medium=cpc&utm_campaign=uac_install_q2&campaign_id=21345678901',
    });
    expect(r.json.attribution).toMatchObject({
      network: 'google',
      match_type: 'referrer',
      gclid: 'Cj0KCQjw-_mv',
      campaign: 'uac_install_q2',
      campaign_id: '21345678901',
      query_params: {
        gclid: 'Cj0KCQjw-_mv',
        utm_source: 'google',
        utm_medium: 'cpc',
        utm_campaign: 'uac_install_q2',
        campaign_id: '21345678901',
      },
      customData: {},
    });
  });
});

describe('sandbox isolation', () => {
  it('a sandbox click matches only a sandbox install, and devices are separate per environment', async () => {
    const sandboxClick = await insertClick(t.sql, { appId: app.appId, environment: 'sandbox' });
    const d = dev();
    const live = await track(t, 'configure', app.live, { device_id: d, ar_click_id: sandboxClick });
    expect(live.json.attribution.match_type).toBe('organic');
    const sandbox = await track(t, 'configure', app.test, {
      device_id: d,
      ar_click_id: sandboxClick,
    });
    expect(sandbox.json.attribution.match_type).toBe('click_id');
    expect(sandbox.json.attribution.attribution_id).not.toBe(live.json.attribution.attribution_id);
    const rows =
      await t.sql`select environment, match_type from attributions where device_id = ${d} order by environment`;
    expect(rows).toEqual([
      { environment: 'live', match_type: 'organic' },
      { environment: 'sandbox', match_type: 'click_id' },
    ]);
  });

  it('a live click never matches a sandbox install by IP either', async () => {
    const ip = '198.51.100.77';
    await insertClick(t.sql, {
      appId: app.appId,
      ip,
      platform: 'ios',
      osVersion: '17.5',
      language: 'en-US',
    });
    const r = await track(
      t,
      'configure',
      app.test,
      { device_id: dev(), device_info: iosInfo },
      fromIp(ip),
    );
    expect(r.json.attribution.match_type).toBe('organic');
  });
});

describe('device id and probabilistic', () => {
  it('IDFA equal to a click idfa → device_id', async () => {
    const idfa = '6D92078A-8246-4BA4-AE5B-76104861E7DC';
    const id = await insertClick(t.sql, { appId: app.appId, idfa, network: 'meta' });
    const r = await track(t, 'configure', app.live, {
      device_id: dev(),
      idfa,
      device_info: iosInfo,
    });
    expect(r.json.attribution).toMatchObject({ match_type: 'device_id', network: 'meta' });
    const rows = await t.sql`select count(*)::int as n from attributions where click_id = ${id}`;
    expect(rows[0].n).toBe(1);
  });

  it('GAID equal to a click gaid → device_id', async () => {
    const gaid = '5f8e2c1a-9b3d-4e7f-a6c0-1d2e3f4a5b6c';
    await insertClick(t.sql, { appId: app.appId, gaid, network: 'google' });
    const r = await track(t, 'configure', app.live, {
      device_id: dev(),
      gaid,
      device_info: { platform: 'android' },
    });
    expect(r.json.attribution).toMatchObject({ match_type: 'device_id', network: 'google' });
  });

  it('same IP, platform, OS version and language → probabilistic, the last click wins; a click is used once', async () => {
    const ip = '203.0.113.10';
    await insertClick(t.sql, {
      appId: app.appId,
      ip,
      platform: 'ios',
      osVersion: '17.5',
      language: 'en-US',
      campaign: 'older',
      minutesAgo: 120,
    });
    await insertClick(t.sql, {
      appId: app.appId,
      ip,
      platform: 'ios',
      osVersion: '17.5',
      language: 'en-US',
      campaign: 'newer',
      minutesAgo: 30,
    });
    const r = await track(
      t,
      'configure',
      app.live,
      { device_id: dev(), device_info: iosInfo },
      fromIp(ip),
    );
    expect(r.json.attribution).toMatchObject({ match_type: 'probabilistic', campaign: 'newer' });
    // The next device behind the same IP gets the remaining (older) click, then nothing.
    const r2 = await track(
      t,
      'configure',
      app.live,
      { device_id: dev(), device_info: iosInfo },
      fromIp(ip),
    );
    expect(r2.json.attribution).toMatchObject({ match_type: 'probabilistic', campaign: 'older' });
    const r3 = await track(
      t,
      'configure',
      app.live,
      { device_id: dev(), device_info: iosInfo },
      fromIp(ip),
    );
    expect(r3.json.attribution.match_type).toBe('organic');
  });

  it('different OS version or language → no probabilistic match', async () => {
    const ip = '203.0.113.11';
    await insertClick(t.sql, {
      appId: app.appId,
      ip,
      platform: 'ios',
      osVersion: '16.1',
      language: 'en-US',
    });
    await insertClick(t.sql, {
      appId: app.appId,
      ip,
      platform: 'ios',
      osVersion: '17.5',
      language: 'fr-FR',
    });
    const r = await track(
      t,
      'configure',
      app.live,
      { device_id: dev(), device_info: iosInfo },
      fromIp(ip),
    );
    expect(r.json.attribution.match_type).toBe('organic');
  });

  it('refuses an IP that many devices share', async () => {
    const ip = '203.0.113.12';
    for (let i = 0; i < 5; i++) {
      await insertClick(t.sql, {
        appId: app.appId,
        ip,
        platform: i % 2 ? 'android' : 'ios',
        osVersion: `${14 + i}`,
        language: 'en',
        userAgent: `UA-${i}`,
        minutesAgo: 10 + i,
      });
    }
    await insertClick(t.sql, {
      appId: app.appId,
      ip,
      platform: 'ios',
      osVersion: '17.5',
      language: 'en-US',
      minutesAgo: 5,
    });
    const d = dev();
    const r = await track(
      t,
      'configure',
      app.live,
      { device_id: d, device_info: iosInfo },
      fromIp(ip),
    );
    expect(r.json.attribution.match_type).toBe('organic');
    const a = await attributionOf(d);
    expect(a.explanation.considered).toContainEqual({
      rule: 'probabilistic',
      outcome: 'shared_ip',
    });
  });

  it('an app can switch probabilistic matching off', async () => {
    const off = await createSdkApp(t, { attributionSettings: { probabilisticEnabled: false } });
    const ip = '203.0.113.13';
    await insertClick(t.sql, {
      appId: off.appId,
      ip,
      platform: 'ios',
      osVersion: '17.5',
      language: 'en-US',
    });
    const r = await track(
      t,
      'configure',
      off.live,
      { device_id: dev(), device_info: iosInfo },
      fromIp(ip),
    );
    expect(r.json.attribution.match_type).toBe('organic');
  });
});

describe('idempotent upsert', () => {
  it('repeats return the same attribution; the install event is recorded once; signals merge, absent values never erase', async () => {
    const d = dev();
    const first = await track(t, 'configure', app.live, {
      device_id: d,
      device_info: iosInfo,
      idfa: '6D92078A-0000-4BA4-AE5B-76104861E7DC',
    });
    const second = await track(t, 'configure', app.live, {
      device_id: d,
      device_info: { platform: 'ios', app_version: '2.4.0' },
      customer_user_id: 'rc_1',
    });
    expect(second.json).toEqual(first.json);
    const [device] = await t.sql`select * from devices where device_id = ${d}`;
    expect(device).toMatchObject({
      idfa: '6D92078A-0000-4BA4-AE5B-76104861E7DC',
      app_version: '2.4.0',
      os_version: '17.5.1',
      customer_user_id: 'rc_1',
      language: 'en',
      region: 'US',
      utc_offset_minutes: expect.any(Number),
    });
    const users = await t.sql`select user_id from device_users where device_pk = ${device.id}`;
    expect(users.map((u) => u.user_id)).toEqual(['rc_1']);
    const installs =
      await t.sql`select count(*)::int as n from events where device_id = ${d} and event_name = 'install'`;
    expect(installs[0].n).toBe(1);
  });

  it('concurrent identical configures create one install and return one attribution id', async () => {
    const id = await insertClick(t.sql, { appId: app.appId });
    const d = dev();
    const replies = await Promise.all(
      Array.from({ length: 8 }, () =>
        track(t, 'configure', app.live, { device_id: d, ar_click_id: id, device_info: iosInfo }),
      ),
    );
    for (const r of replies) expect(r.status).toBe(200);
    expect(new Set(replies.map((r) => r.json.attribution.attribution_id)).size).toBe(1);
    const [counts] = await t.sql`
      select (select count(*)::int from devices where device_id = ${d}) as devices,
             (select count(*)::int from attributions where device_id = ${d}) as attributions,
             (select count(*)::int from events where device_id = ${d} and event_name = 'install') as installs`;
    expect(counts).toEqual({ devices: 1, attributions: 1, installs: 1 });
  });

  it('a device first seen through events becomes an install at its first configure', async () => {
    const d = dev();
    expect((await track(t, 'event', app.live, { device_id: d, event_name: 'early' })).status).toBe(
      200,
    );
    const r = await track(t, 'configure', app.live, { device_id: d });
    expect(r.json.attribution.match_type).toBe('organic');
    const [device] =
      await t.sql`select installed_at, attribution_id from devices where device_id = ${d}`;
    expect(device.installed_at).not.toBeNull();
    expect(device.attribution_id).toBe(r.json.attribution.attribution_id);
  });

  it('infers a missing platform from the signals and the User-Agent', async () => {
    const cases: [Record<string, unknown>, Record<string, string>, string][] = [
      [{ idfa: '6D92078A-8246-4BA4-AE5B-76104861E7DC' }, {}, 'ios'],
      [{}, { 'user-agent': 'FitTrack/57 CFNetwork/1496.0.7 Darwin/23.5.0' }, 'ios'],
      [{ install_referrer: 'utm_source=google-play&utm_medium=organic' }, {}, 'android'],
      [{}, { 'user-agent': 'Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A)' }, 'android'],
      [{}, { 'user-agent': 'curl/8' }, 'unknown'],
    ];
    for (const [body, headers, platform] of cases) {
      const d = dev();
      await track(
        t,
        'configure',
        app.live,
        { device_id: d, device_info: { app_version: '1.0' }, ...body },
        headers,
      );
      const [row] = await t.sql`select platform from devices where device_id = ${d}`;
      expect(row.platform, JSON.stringify([body, headers])).toBe(platform);
    }
  });

  it('flags (never rejects) a bundle id that differs from the app', async () => {
    const d = dev();
    const r = await track(t, 'configure', app.live, {
      device_id: d,
      device_info: { ...iosInfo, bundle_id: 'com.other.app' },
    });
    expect(r.status).toBe(200);
    const [device] = await t.sql`select bundle_mismatch from devices where device_id = ${d}`;
    expect(device.bundle_mismatch).toBe(true);
  });
});

describe('reinstall', () => {
  it('keeps the original attribution and records the new click as a reinstall touch', async () => {
    const first = await insertClick(t.sql, { appId: app.appId, campaign: 'first' });
    const second = await insertClick(t.sql, { appId: app.appId, campaign: 'second' });
    const d = dev();
    const a = await track(t, 'configure', app.live, { device_id: d, ar_click_id: first });
    const b = await track(t, 'configure', app.live, { device_id: d, ar_click_id: second });
    expect(b.json).toEqual(a.json);
    expect(b.json.attribution.campaign).toBe('first');
    await track(t, 'configure', app.live, { device_id: d, ar_click_id: second }); // repeat of the reinstall
    const touches =
      await t.sql`select kind, click_id, reattributed from attribution_touches t join devices d on d.id = t.device_pk where d.device_id = ${d}`;
    expect(touches).toEqual([{ kind: 'reinstall', click_id: second, reattributed: false }]);
  });

  it('re-attributes (same attribution id) once the re-attribution window has passed', async () => {
    const first = await insertClick(t.sql, { appId: app.appId, campaign: 'first' });
    const d = dev();
    const a = await track(t, 'configure', app.live, { device_id: d, ar_click_id: first });
    // The install is 91 days old (window: 90 days).
    await t.sql`update attributions set installed_at = now() - interval '91 days' where device_id = ${d}`;
    const second = await insertClick(t.sql, { appId: app.appId, campaign: 'comeback' });
    const b = await track(t, 'configure', app.live, { device_id: d, ar_click_id: second });
    expect(b.json.attribution).toMatchObject({
      attribution_id: a.json.attribution.attribution_id,
      campaign: 'comeback',
      match_type: 'click_id',
    });
    const row = await attributionOf(d);
    expect(row).toMatchObject({ reinstall: true, click_id: second });
    expect(row.explanation.reattributedFrom).toMatchObject({ clickId: first });
    const installs =
      await t.sql`select properties from events where device_id = ${d} and event_name = 'install' order by seq`;
    expect(installs.map((e) => e.properties.reinstall ?? false)).toEqual([false, true]);
  });
});

describe('country', () => {
  it('comes from the install IP (offline DB-IP lookup) when no click or Apple record gives one', async () => {
    const d = dev();
    await track(t, 'configure', app.live, { device_id: d }, fromIp('8.8.8.8'));
    const a = await attributionOf(d);
    expect(a.country).toBe('US');
    const [device] = await t.sql`select country from devices where device_id = ${d}`;
    expect(device.country).toBe('US');
  });
});

describe('customer user id', () => {
  it('configure customer_user_id links the device like _set_user_id', async () => {
    const d = dev();
    await track(t, 'configure', app.live, { device_id: d, customer_user_id: '$RCAnonymousID:abc' });
    const [row] =
      await t.sql`select u.user_id, d.customer_user_id from device_users u join devices d on d.id = u.device_pk where d.device_id = ${d}`;
    expect(row).toEqual({ user_id: '$RCAnonymousID:abc', customer_user_id: '$RCAnonymousID:abc' });
  });
});
