/**
 * Issue 10 regressions on tracking links: values cut on code points, never inside an emoji (4);
 * non-ASCII store and destination URLs redirect (8).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../../../test/helpers.ts';
import { truncate } from '../../lib/text.ts';
import { track } from '../tracking/test-support.ts';
import { clicksWithMarker, hit, marker, setupApp } from './test-support.ts';
import { MAX_KEY_LENGTH, MAX_VALUE_LENGTH } from './params.ts';
import { UA } from './ua.fixtures.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t?.close());

const EMOJI = '😀'; // two UTF-16 units
const enc = encodeURIComponent;

describe('truncate (src/lib/text.ts)', () => {
  it('never splits a surrogate pair and never exceeds the limit', () => {
    expect(truncate(`ab${EMOJI}`, 3)).toBe('ab');
    expect(truncate(`ab${EMOJI}`, 4)).toBe(`ab${EMOJI}`);
    expect(truncate(`a${EMOJI}b`, 2)).toBe('a');
    expect(truncate(`${EMOJI}${EMOJI}`, 1)).toBe('');
    expect(truncate('abc', 0)).toBe('');
    expect(truncate('abc', 5)).toBe('abc');
    for (let i = 0; i <= 8; i++) {
      const cut = truncate(`x${EMOJI}y${EMOJI}${EMOJI}z`, i);
      expect(cut.length).toBeLessThanOrEqual(i);
      expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut); // well-formed: no lone surrogate turned into U+FFFD
    }
  });
});

describe('a click whose parameter is cut inside an emoji (lone surrogates)', () => {
  it('is answered, written, and attributes the install that carries its id', async () => {
    const s = await setupApp(t);
    const link = await s.createLink({ network: 'meta' });
    const m = marker();
    const value = 'v'.repeat(MAX_VALUE_LENGTH - 1) + EMOJI + 'tail';
    const key = 'k'.repeat(MAX_KEY_LENGTH - 1) + EMOJI;
    const r = await hit(
      t,
      `/api/c/${link.id}?m=${m}&fbclid=fb1&note=${enc(value)}&${enc(key)}=x&utm_campaign=${enc('v'.repeat(MAX_VALUE_LENGTH - 1) + EMOJI)}`,
      { ua: UA.iphoneSafari },
    );
    expect(r.status).toBe(302);

    const [click] = await clicksWithMarker(t.sql, m);
    expect(click).toBeDefined();
    expect(click.query_params.note).toBe('v'.repeat(MAX_VALUE_LENGTH - 1));
    expect(click.query_params['k'.repeat(MAX_KEY_LENGTH - 1)]).toBe('x');

    const c = await track(
      t,
      'configure',
      (await t.sql`select sdk_key_live from apps where id = ${s.app.id}`)[0].sdk_key_live,
      { device_id: `dev-${m}`, ar_click_id: click.id, device_info: { platform: 'ios' } },
    );
    expect(c.status).toBe(200);
    expect(c.json.attribution).toMatchObject({ network: 'meta', match_type: 'click_id' });
    expect(c.json.attribution.query_params.note).toBe('v'.repeat(MAX_VALUE_LENGTH - 1));
  });
});

describe('non-ASCII store and destination URLs', () => {
  it('an App Store URL with ü is stored normalised and every iOS click redirects to it', async () => {
    const s = await setupApp(t, {
      ios: {
        bundleId: 'com.example.kuerbis',
        storeUrl: 'https://apps.apple.com/de/app/kürbis/id123',
      },
    });
    expect(s.app.ios.storeUrl).toBe('https://apps.apple.com/de/app/k%C3%BCrbis/id123');
    const link = await s.createLink();
    for (let i = 0; i < 2; i++) {
      const r = await hit(t, `/api/c/${link.id}`, { ua: UA.iphoneSafari });
      expect(r.status).toBe(302);
      expect(r.location).toBe('https://apps.apple.com/de/app/k%C3%BCrbis/id123');
      expect(new URL(r.location!).pathname).toBe(`/de/app/${enc('kürbis')}/id123`);
    }
  });

  it('a link with non-ASCII destinations (CJK path, emoji query, international host) redirects on every platform', async () => {
    const s = await setupApp(t);
    const created = await api(t, 'POST', `/api/v1/apps/${s.app.id}/links`, {
      auth: s.key,
      body: {
        id: `l-${marker().toLowerCase()}`,
        destinations: {
          ios: 'https://apps.apple.com/jp/app/東京/id1?ref=🚀',
          android: 'https://play.google.com/store/apps/details?id=com.example.fittrack&hl=日本',
          web: 'https://bücher.example/seite#größe',
        },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.data.destinations).toEqual({
      ios: 'https://apps.apple.com/jp/app/%E6%9D%B1%E4%BA%AC/id1?ref=%F0%9F%9A%80',
      android:
        'https://play.google.com/store/apps/details?id=com.example.fittrack&hl=%E6%97%A5%E6%9C%AC',
      web: 'https://xn--bcher-kva.example/seite#gr%C3%B6%C3%9Fe',
    });
    const id = created.body.data.id;
    const ios = await hit(t, `/api/c/${id}`, { ua: UA.iphoneSafari });
    expect(ios).toMatchObject({
      status: 302,
      location: 'https://apps.apple.com/jp/app/%E6%9D%B1%E4%BA%AC/id1?ref=%F0%9F%9A%80',
    });
    const android = await hit(t, `/api/c/${id}`, { ua: UA.androidChrome });
    expect(android.status).toBe(302);
    expect(new URL(android.location!).searchParams.get('hl')).toBe('日本');
    const web = await hit(t, `/api/c/${id}`, { ua: UA.desktopChrome });
    expect(web.status).toBe(302);
    expect(web.location).toMatch(
      /^https:\/\/xn--bcher-kva\.example\/seite\?ar_click_id=arc_[A-Za-z0-9]{20}#gr%C3%B6%C3%9Fe$/,
    );
  });

  it('URLs stored before the fix (raw non-ASCII) still redirect: normalised when the Location is built', async () => {
    const s = await setupApp(t);
    const link = await s.createLink();
    await t.sql`update links set destination_ios = 'https://apps.apple.com/cn/app/应用/id9' where id = ${link.id}`;
    const r = await hit(t, `/api/c/${link.id}`, { ua: UA.iphoneSafari }); // first hit: read from the database
    expect(r).toMatchObject({
      status: 302,
      location: 'https://apps.apple.com/cn/app/%E5%BA%94%E7%94%A8/id9',
    });
  });
});
