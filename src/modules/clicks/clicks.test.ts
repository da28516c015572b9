import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { api, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { createSql } from '../../db/client.ts';
import { buildServer } from '../../http/server.ts';
import { createServices } from '../../runtime.ts';
import { MODULES } from '../index.ts';
import { clicksWithMarker, eventually, hit, marker, setupApp } from './test-support.ts';
import { UA } from './ua.fixtures.ts';

let t: TestServer;
let s: Awaited<ReturnType<typeof setupApp>>;
const APP_STORE = 'https://apps.apple.com/app/id1234567890';
const PLAY = 'https://play.google.com/store/apps/details?id=com.example.fittrack';

beforeAll(async () => {
  t = await startTestServer();
  s = await setupApp(t);
});
afterAll(() => t?.close());

describe('GET /api/c/{linkId}', () => {
  it('iOS: 302 to the App Store, no-store, and the click stored with everything the request said', async () => {
    const link = await s.createLink({ network: 'meta', campaignName: 'summer_launch' });
    const m = marker();
    const qs =
      `m=${m}&fbclid=IwAR3kLm&campaign_id=120214455667788001&campaign_name=Summer+Launch&adset_id=2&adset_name=Lookalike%202%25` +
      `&ad_id=3&ad_name=Video%20A&utm_source=facebook&utm_medium=paid_social&utm_content=v1&invite_code=K7P2QX&tag=first&tag=second` +
      `&city=%E6%9D%B1%E4%BA%AC&note=caf%C3%A9+%F0%9F%9A%80&idfa=6d92078a-8246-4ba4-ae5b-76104861e7dc`;
    const r = await hit(t, `/api/c/${link.id}?${qs}`, {
      ua: UA.iphoneSafari,
      headers: { 'accept-language': 'de-CH,de;q=0.9', referer: 'https://m.facebook.com/' },
    });
    expect(r.status).toBe(302);
    expect(r.location).toBe(APP_STORE);
    expect(r.cacheControl).toBe('no-store');
    const [c] = await clicksWithMarker(t.sql, m);
    expect(c).toMatchObject({
      app_id: s.app.id,
      link_id: link.id,
      environment: 'live',
      network: 'meta',
      campaign: 'summer_launch',
      campaign_id: '120214455667788001',
      campaign_name: 'Summer Launch',
      ad_group_id: '2',
      ad_group_name: 'Lookalike 2%',
      ad_id: '3',
      ad_name: 'Video A',
      fbclid: 'IwAR3kLm',
      gclid: null,
      utm_source: 'facebook',
      utm_medium: 'paid_social',
      utm_content: 'v1',
      idfa: '6D92078A-8246-4BA4-AE5B-76104861E7DC',
      ip: '127.0.0.1',
      user_agent: UA.iphoneSafari,
      platform: 'ios',
      os_version: '17.4.1',
      device_model: 'iPhone',
      language: 'de-CH',
      referer: 'https://m.facebook.com/',
      source: 'redirect',
      is_bot: false,
      bot_reason: null,
      duplicate_of: null,
    });
    expect(c.id).toMatch(/^arc_[A-Za-z0-9]{20}$/);
    expect(c.query_params).toEqual({
      m,
      fbclid: 'IwAR3kLm',
      campaign_id: '120214455667788001',
      campaign_name: 'Summer Launch',
      adset_id: '2',
      adset_name: 'Lookalike 2%',
      ad_id: '3',
      ad_name: 'Video A',
      utm_source: 'facebook',
      utm_medium: 'paid_social',
      utm_content: 'v1',
      invite_code: 'K7P2QX',
      tag: 'first',
      city: '東京',
      note: 'café 🚀',
      idfa: '6d92078a-8246-4ba4-ae5b-76104861e7dc',
    });
    expect(Math.abs(new Date(c.clicked_at).getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('Android: 302 to Play with the referrer carrying the stored click id and UTM values', async () => {
    const link = await s.createLink({ network: 'tiktok' });
    const m = marker();
    const r = await hit(
      t,
      `/api/c/${link.id}?m=${m}&ttclid=E.C.P.abc&utm_campaign=Black%20Friday%20%26%20more&utm_medium=cpc&gaid=38400000-8CF0-11BD-B23E-10B96E40000D`,
      { ua: UA.androidChrome },
    );
    expect(r.status).toBe(302);
    const [c] = await clicksWithMarker(t.sql, m);
    expect(c).toMatchObject({
      platform: 'android',
      os_version: '14',
      device_model: 'SM-S918B',
      network: 'tiktok',
      ttclid: 'E.C.P.abc',
      gaid: '38400000-8cf0-11bd-b23e-10b96e40000d',
      campaign: 'Black Friday & more',
    });
    const expectedReferrer = `ar_click_id=${c.id}&utm_source=tiktok&utm_medium=cpc&utm_campaign=Black%20Friday%20%26%20more`;
    expect(r.location).toBe(`${PLAY}&referrer=${encodeURIComponent(expectedReferrer)}`);
    // Decode it back as Play (once) and the SDK referrer parser (split on & and =, then decode) do.
    const referrer = new URL(r.location!).searchParams.get('referrer')!;
    const fields = Object.fromEntries(
      referrer
        .split('&')
        .map((p) => p.split('='))
        .map(([k, v]) => [k, decodeURIComponent(v)]),
    );
    expect(fields).toEqual({
      ar_click_id: c.id,
      utm_source: 'tiktok',
      utm_medium: 'cpc',
      utm_campaign: 'Black Friday & more',
    });
  });

  it('desktop: the web URL with ar_click_id, or the landing page with both store buttons when there is none', async () => {
    const web = await setupApp(t, { webUrl: 'https://fittrack.example/start?ref=ads' });
    const link = await web.createLink();
    const m = marker();
    const r = await hit(t, `/api/c/${link.id}?m=${m}`, { ua: UA.desktopChrome });
    const [c] = await clicksWithMarker(t.sql, m);
    expect(r.status).toBe(302);
    expect(r.location).toBe(`https://fittrack.example/start?ref=ads&ar_click_id=${c.id}`);
    expect(c.platform).toBe('web');

    const noWeb = await s.createLink();
    const m2 = marker();
    const page = await hit(t, `/api/c/${noWeb.id}?m=${m2}&utm_source=google`, {
      ua: UA.desktopSafari,
    });
    const [c2] = await clicksWithMarker(t.sql, m2);
    expect(page.status).toBe(200);
    expect(page.contentType).toBe('text/html; charset=utf-8');
    expect(page.cacheControl).toBe('no-store');
    expect(page.body).toContain(`href="${APP_STORE}"`);
    expect(page.body).toContain(
      `href="${PLAY}&amp;referrer=ar_click_id%3D${c2.id}%26utm_source%3Dgoogle`,
    );
  });

  it('a platform without its destination falls back to the web URL, else to the landing page; no destination at all is a 404 page, and the capture page on the API host', async () => {
    const iosOnly = await setupApp(t, { android: null });
    const link = await iosOnly.createLink();
    const r = await hit(t, `/api/c/${link.id}`, { ua: UA.androidChrome });
    expect(r.status).toBe(200);
    expect(r.body).toContain('App Store');
    expect(r.body).not.toContain('Google Play');
    const viaWeb = await iosOnly.createLink({ destinations: { web: 'https://fittrack.example/' } });
    const r2 = await hit(t, `/api/c/${viaWeb.id}`, { ua: UA.androidChrome });
    expect(r2.location).toMatch(/^https:\/\/fittrack\.example\/\?ar_click_id=arc_/);

    const none = await setupApp(t, { ios: null, android: null });
    const bare = await none.createLink();
    const r3 = await hit(t, `/api/c/${bare.id}`, { ua: UA.iphoneSafari });
    expect(r3.status).toBe(404);
    expect(r3.contentType).toBe('text/html; charset=utf-8');
    expect(r3.body).toContain('not set up yet');
    expect(
      (await hit(t, `/api/c/${bare.id}`, { headers: { host: 'trk.test.local' } })).status,
    ).toBe(404);

    // On the API host (PUBLIC_URL) the same link is the "capture page": the visit is recorded.
    const m = marker();
    const captured = await hit(t, `/api/c/${bare.id}?m=${m}`, {
      headers: { host: 'api.test.local' },
    });
    expect(captured.status).toBe(200);
    expect(captured.body).toContain('is not in an app store yet');
    expect(captured.body).not.toContain('<nav');
    const [click] = await clicksWithMarker(t.sql, m);
    expect(click).toMatchObject({ link_id: bare.id, source: 'capture', is_bot: false });
    // Behind a trusted proxy (loopback here), X-Forwarded-Host names the host.
    expect(
      (await hit(t, `/api/c/${bare.id}`, { headers: { 'x-forwarded-host': 'API.test.local' } }))
        .status,
    ).toBe(200);
  });

  it('uses the link overrides over the app destinations', async () => {
    const link = await s.createLink({
      destinations: {
        ios: 'https://apps.apple.com/app/id999',
        android: 'https://play.google.com/store/apps/details?id=com.other',
      },
    });
    expect((await hit(t, `/api/c/${link.id}`, { ua: UA.iphoneSafari })).location).toBe(
      'https://apps.apple.com/app/id999',
    );
    expect((await hit(t, `/api/c/${link.id}`, { ua: UA.androidChromeReduced })).location).toMatch(
      /^https:\/\/play\.google\.com\/store\/apps\/details\?id=com\.other&referrer=ar_click_id%3Darc_/,
    );
  });

  it.each([
    ['fbclid=x', 'meta'],
    ['gclid=x', 'google'],
    ['gbraid=x', 'google'],
    ['wbraid=x', 'google'],
    ['ttclid=x', 'tiktok'],
    ['utm_source=ig', 'meta'],
    ['utm_source=youtube', 'google'],
    ['utm_source=tt', 'tiktok'],
    ['utm_source=asa', 'apple_search_ads'],
    ['utm_source=newsletter', 'apple_search_ads'],
    ['', 'apple_search_ads'],
    ['gclid=x&utm_source=facebook', 'google'],
  ])('network detection over HTTP: %s → %s', async (qs, network) => {
    const link = await s.createLink({ network: 'apple_search_ads' });
    const m = marker();
    await hit(t, `/api/c/${link.id}?m=${m}${qs ? `&${qs}` : ''}`);
    const [c] = await clicksWithMarker(t.sql, m);
    expect(c.network).toBe(network);
  });

  it('ar_env=sandbox makes a sandbox click and is not passed through', async () => {
    const link = await s.createLink();
    const m = marker();
    await hit(t, `/api/c/${link.id}?m=${m}&ar_env=sandbox&x=1`);
    const [c] = await clicksWithMarker(t.sql, m);
    expect(c.environment).toBe('sandbox');
    expect(c.query_params).toEqual({ m, x: '1' });
  });

  it.each(['facebookexternalhit', 'slackbot', 'twitterbot', 'whatsapp'] as const)(
    '%s gets what a browser gets and is stored as a bot',
    async (name) => {
      const web = await setupApp(t, { webUrl: 'https://fittrack.example/' });
      const link = await web.createLink();
      const m = marker();
      const r = await hit(t, `/api/c/${link.id}?m=${m}`, { ua: UA[name] });
      const [c] = await clicksWithMarker(t.sql, m);
      expect(r.status).toBe(302);
      expect(r.location).toBe(`https://fittrack.example/?ar_click_id=${c.id}`);
      expect(c).toMatchObject({ is_bot: true, bot_reason: 'user_agent', user_agent: UA[name] });
    },
  );

  it('HEAD, prefetch and missing User-Agent are stored as bots with the reason', async () => {
    const link = await s.createLink();
    const cases: [string, Parameters<typeof hit>[2], string, number][] = [
      [marker(), { method: 'HEAD', ua: UA.iphoneSafari }, 'head_request', 302],
      [marker(), { ua: UA.iphoneSafari, headers: { 'sec-purpose': 'prefetch' } }, 'prefetch', 302],
      [marker(), { ua: null }, 'missing_user_agent', 200], // unknown device, no web URL: the landing page
    ];
    for (const [m, opts, reason, status] of cases) {
      const r = await hit(t, `/api/c/${link.id}?m=${m}`, opts);
      expect(r.status).toBe(status);
      const [c] = await clicksWithMarker(t.sql, m);
      expect(c).toMatchObject({ is_bot: true, bot_reason: reason });
    }
  });

  it('a rapid repeat from the same IP and browser is stored as a duplicate and keeps the first click id', async () => {
    const link = await s.createLink();
    const m = marker();
    const first = await hit(t, `/api/c/${link.id}?m=${m}`, { ua: UA.androidChrome });
    const second = await hit(t, `/api/c/${link.id}?m=${m}`, { ua: UA.androidChrome });
    const rows = await clicksWithMarker(t.sql, m, 2);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ is_bot: false, duplicate_of: null });
    expect(rows[1]).toMatchObject({
      is_bot: true,
      bot_reason: 'duplicate',
      duplicate_of: rows[0].id,
    });
    expect(first.location).toContain(`ar_click_id%3D${rows[0].id}`);
    expect(second.location).toBe(first.location);
    // Another browser on the same IP is a click of its own.
    const m3 = marker();
    await hit(t, `/api/c/${link.id}?m=${m3}`, { ua: UA.androidChromeReduced });
    expect((await clicksWithMarker(t.sql, m3))[0]).toMatchObject({
      is_bot: false,
      duplicate_of: null,
    });
  });

  it('unknown, malformed and deleted links answer a 404 page; so do links of an archived app', async () => {
    for (const path of [
      '/api/c/no-such-link',
      '/api/c/NOT_A_SLUG',
      '/api/c/x',
      `/api/c/${'a'.repeat(65)}`,
      '/g/no-such-link',
    ]) {
      const r = await hit(t, path);
      expect(r.status, path).toBe(404);
      expect(r.contentType).toBe('text/html; charset=utf-8');
      expect(r.body).toContain('Link not found');
    }
    expect((await hit(t, '/api/c/%00%ff')).status).toBe(400); // not even a URL path
    const link = await s.createLink();
    expect((await hit(t, `/api/c/${link.id}`)).status).toBe(302);
    expect(
      (await api(t, 'DELETE', `/api/v1/apps/${s.app.id}/links/${link.id}`, { auth: s.key })).status,
    ).toBe(204);
    expect((await hit(t, `/api/c/${link.id}`)).status).toBe(404);
    expect((await hit(t, `/g/${link.id}`)).status).toBe(404);

    const other = await setupApp(t);
    const l2 = await other.createLink();
    expect((await hit(t, `/api/c/${l2.id}`)).status).toBe(302);
    await api(t, 'PATCH', `/api/v1/apps/${other.app.id}`, {
      auth: other.key,
      body: { archived: true },
    });
    await eventually(async () => expect((await hit(t, `/api/c/${l2.id}`)).status).toBe(404));
  });

  it('keeps the server conventions: request id, trailing slash, percent-encoded id; other methods get the API 404', async () => {
    const link = await s.createLink();
    const m = marker();
    const traced = await hit(t, `/api/c/${link.id}?m=${m}`, {
      headers: { 'x-request-id': 'click-trace-1' },
    });
    expect(traced.status).toBe(302);
    expect(traced.requestId).toBe('click-trace-1');
    const generated = await hit(t, `/api/c/${link.id}/?m=${m}`, {
      headers: { 'x-request-id': 'not valid!' },
    });
    expect(generated.status).toBe(302);
    expect(generated.requestId).toMatch(/^req_[A-Za-z0-9]{16}$/);
    const encoded = await hit(
      t,
      `/api/c/${encodeURIComponent(link.id).replace('-', '%2D')}?m=${m}`,
    );
    expect(encoded.status).toBe(302);
    expect((await hit(t, `/g/${link.id}/?m=${m}`)).status).toBe(200);
    expect(await clicksWithMarker(t.sql, m, 4)).toHaveLength(4);

    const post = await api(t, 'POST', `/api/c/${link.id}`, { body: {} });
    expect(post.status).toBe(404);
    expect(post.body.error.code).toBe('not_found');
    expect((await hit(t, `/api/c/${link.id}/extra`)).status).toBe(404);
  });

  it('a link created after a miss works at once (the negative cache entry is dropped)', async () => {
    expect((await hit(t, '/api/c/created-after-miss')).status).toBe(404);
    await s.createLink({ id: 'created-after-miss' });
    expect((await hit(t, '/api/c/created-after-miss')).status).toBe(302);
  });

  it('PATCH of a link or of its app changes the next redirect', async () => {
    const link = await s.createLink();
    expect((await hit(t, `/api/c/${link.id}`)).location).toBe(APP_STORE);
    await api(t, 'PATCH', `/api/v1/apps/${s.app.id}/links/${link.id}`, {
      auth: s.key,
      body: { destinations: { ios: 'https://apps.apple.com/app/id42' } },
    });
    expect((await hit(t, `/api/c/${link.id}`)).location).toBe('https://apps.apple.com/app/id42');
    await api(t, 'PATCH', `/api/v1/apps/${s.app.id}/links/${link.id}`, {
      auth: s.key,
      body: { destinations: { ios: null } },
    });
    expect((await hit(t, `/api/c/${link.id}`)).location).toBe(APP_STORE);
    // App changes arrive by NOTIFY.
    await api(t, 'PATCH', `/api/v1/apps/${s.app.id}`, {
      auth: s.key,
      body: { ios: { bundleId: 'com.example.fittrack', appStoreId: '555' } },
    });
    await eventually(async () =>
      expect((await hit(t, `/api/c/${link.id}`)).location).toBe('https://apps.apple.com/app/id555'),
    );
    await api(t, 'PATCH', `/api/v1/apps/${s.app.id}`, {
      auth: s.key,
      body: { ios: { bundleId: 'com.example.fittrack', appStoreId: '1234567890' } },
    });
    await eventually(async () =>
      expect((await hit(t, `/api/c/${link.id}`)).location).toBe(APP_STORE),
    );
  });

  it('another server process on the same database sees link changes (LISTEN/NOTIFY)', async () => {
    const link = await s.createLink();
    const sql2 = createSql(t.config.databaseUrl!, { max: 4 });
    const app2 = await buildServer(
      createServices(t.config, sql2, pino({ level: 'silent' })),
      MODULES,
    );
    await app2.listen({ port: 0, host: '127.0.0.1' });
    try {
      const t2 = {
        ...t,
        url: `http://127.0.0.1:${(app2.server.address() as { port: number }).port}`,
      };
      expect((await hit(t2, `/api/c/${link.id}`)).location).toBe(APP_STORE); // now cached in process 2
      await api(t, 'PATCH', `/api/v1/apps/${s.app.id}/links/${link.id}`, {
        auth: s.key,
        body: { destinations: { ios: 'https://apps.apple.com/app/id77' } },
      });
      await eventually(async () =>
        expect((await hit(t2, `/api/c/${link.id}`)).location).toBe(
          'https://apps.apple.com/app/id77',
        ),
      );
      await api(t, 'DELETE', `/api/v1/apps/${s.app.id}/links/${link.id}`, { auth: s.key });
      await eventually(async () => expect((await hit(t2, `/api/c/${link.id}`)).status).toBe(404));
    } finally {
      await app2.close();
      await sql2.end();
    }
  });
});

describe('GET /g/{linkId}', () => {
  it('shows an accessible page with both store buttons carrying the recorded click id', async () => {
    const link = await s.createLink({ network: 'google' });
    const m = marker();
    const r = await hit(t, `/g/${link.id}?m=${m}&gclid=Cj0KCQ&campaign_id=77`, {
      ua: UA.androidChrome,
    });
    expect(r.status).toBe(200);
    expect(r.cacheControl).toBe('no-store');
    expect(r.body).toMatch(/^<!doctype html><html lang="en">/);
    expect(r.body).toContain('<title>FitTrack</title>');
    const [c] = await clicksWithMarker(t.sql, m);
    expect(c).toMatchObject({
      source: 'landing',
      network: 'google',
      gclid: 'Cj0KCQ',
      campaign_id: '77',
      is_bot: false,
    });
    expect(r.body).toContain(`href="${APP_STORE}">Download on the App Store</a>`);
    expect(r.body).toContain(
      `href="${PLAY}&amp;referrer=ar_click_id%3D${c.id}%26utm_source%3Dgoogle%26utm_medium%3Dpaid">Get it on Google Play</a>`,
    );
  });

  it("Google's AdsBot sees the page and is stored as a bot", async () => {
    const link = await s.createLink({ network: 'google' });
    const m = marker();
    expect((await hit(t, `/g/${link.id}?m=${m}`, { ua: UA.googleAdsBot })).status).toBe(200);
    expect((await clicksWithMarker(t.sql, m))[0]).toMatchObject({
      is_bot: true,
      bot_reason: 'user_agent',
      source: 'landing',
    });
  });

  it('escapes the app name', async () => {
    const x = await setupApp(t, { name: '<script>alert(1)</script> & Co' });
    const link = await x.createLink();
    const r = await hit(t, `/g/${link.id}`);
    expect(r.body).not.toContain('<script>');
    expect(r.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co');
  });
});

describe('client IP', () => {
  it('honours X-Forwarded-For from a trusted proxy only, and looks up the country offline', async () => {
    const link = await s.createLink();
    const m = marker();
    await hit(t, `/api/c/${link.id}?m=${m}`, { headers: { 'x-forwarded-for': '81.2.69.160' } });
    expect((await clicksWithMarker(t.sql, m))[0]).toMatchObject({
      ip: '81.2.69.160',
      country: 'GB',
    });

    const untrusting = await startTestServer({ TRUSTED_PROXIES: '10.9.8.7' });
    try {
      const u = await setupApp(untrusting);
      const l2 = await u.createLink();
      const m2 = marker();
      await hit(untrusting, `/api/c/${l2.id}?m=${m2}`, {
        headers: { 'x-forwarded-for': '81.2.69.160' },
      });
      expect((await clicksWithMarker(untrusting.sql, m2))[0]).toMatchObject({
        ip: '127.0.0.1',
        country: null,
      });
    } finally {
      await untrusting.close();
    }
  });
});
