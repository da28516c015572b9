import { describe, expect, it } from 'vitest';
import { campaignLabel, detectNetwork, parseClickQuery } from './params.ts';
import { chooseDestination, playReferrer, playUrl } from './destination.ts';
import { botReason, describeUserAgent, primaryLanguage } from './user-agent.ts';
import { newClickId, RepeatDetector } from './capture.ts';
import { UA } from './ua.fixtures.ts';

const net = (qs: string, def: Parameters<typeof detectNetwork>[1] = 'other') =>
  detectNetwork(parseClickQuery(qs), def);

describe('network detection (click id, then utm_source, then the link default)', () => {
  it.each([
    ['fbclid=IwAR3kLm', 'meta'],
    ['gclid=Cj0KCQjw', 'google'],
    ['gbraid=0AAAAADx', 'google'],
    ['wbraid=CjkKEQjw', 'google'],
    ['ttclid=E.C.P.Cs0B', 'tiktok'],
    ['fbclid=a&utm_source=tiktok', 'meta'],
    ['ttclid=x&utm_source=google', 'tiktok'],
    ['utm_source=facebook', 'meta'],
    ['utm_source=FB', 'meta'],
    ['utm_source=ig', 'meta'],
    ['utm_source=Instagram', 'meta'],
    ['utm_source=adwords', 'google'],
    ['utm_source=youtube', 'google'],
    ['utm_source=tt', 'tiktok'],
    ['utm_source=asa', 'apple_search_ads'],
    ['utm_source=apple_search_ads', 'apple_search_ads'],
  ])('%s → %s', (qs, expected) => {
    expect(net(qs)).toBe(expected);
  });

  it.each([
    ['no signal', '', 'tiktok'],
    ['an unknown source', 'utm_source=newsletter', 'meta'],
    ['an empty click id', 'fbclid=&utm_source=', 'google'],
    ['an object key', 'utm_source=constructor', 'other'],
  ] as const)('falls back to the link default for %s', (_case, qs, linkDefault) => {
    expect(net(qs, linkDefault)).toBe(linkDefault);
  });
});

describe('query parameters', () => {
  it('keeps every parameter, first value of a repeated one, Unicode and + decoded', () => {
    const q = parseClickQuery(
      'invite_code=K7P2QX&tag=a&tag=b&name=%E6%97%A5%E6%9C%AC%20caf%C3%A9&greeting=hello+world&emoji=%F0%9F%9A%80&fbclid=abc',
    );
    expect(q.queryParams).toEqual({
      invite_code: 'K7P2QX',
      tag: 'a',
      name: '日本 café',
      greeting: 'hello world',
      emoji: '🚀',
      fbclid: 'abc',
    });
  });

  it('ar_env=sandbox makes a sandbox click and is not passed through', () => {
    expect(parseClickQuery('ar_env=sandbox&x=1')).toMatchObject({
      environment: 'sandbox',
      queryParams: { x: '1' },
    });
    expect(parseClickQuery('ar_env=live&x=1')).toMatchObject({
      environment: 'live',
      queryParams: { x: '1' },
    });
  });

  it('maps the recognised parameters and strips NUL bytes', () => {
    const q = parseClickQuery(
      'campaign_id=1&campaign_name=Summer&adgroup_id=2&adgroup_name=G&ad_id=3&ad_name=A&utm_term=shoes&x=a%00b',
    );
    expect(q).toMatchObject({
      campaignId: '1',
      campaignName: 'Summer',
      adGroupId: '2',
      adGroupName: 'G',
      adId: '3',
      adName: 'A',
      keyword: 'shoes',
    });
    expect(q.queryParams.x).toBe('ab');
    expect(parseClickQuery('adset_id=9&adgroup_id=2').adGroupId).toBe('9');
  });

  it.each([
    ['idfa=6d92078a-8246-4ba4-ae5b-76104861e7dc', { idfa: '6D92078A-8246-4BA4-AE5B-76104861E7DC' }],
    ['gaid=38400000-8CF0-11BD-B23E-10B96E40000D', { gaid: '38400000-8cf0-11bd-b23e-10b96e40000d' }],
    ['idfa=00000000-0000-0000-0000-000000000000', { idfa: null }],
    ['idfa={idfa}&gaid=__GAID__', { idfa: null, gaid: null }],
  ])('takes device ids only when they are real (no macros, no zero IDFA): %s', (qs, expected) => {
    expect(parseClickQuery(qs)).toMatchObject(expected);
  });

  it.each([
    ['summer', 'utm_campaign=u&campaign_name=c', 'summer'],
    [null, 'utm_campaign=u&campaign_name=c', 'u'],
    [null, 'campaign_name=c', 'c'],
    [null, '', null],
  ])(
    'campaign label: link campaign, else utm_campaign, else campaign_name (%s, %s → %s)',
    (link, qs, expected) => {
      expect(campaignLabel(link, parseClickQuery(qs))).toBe(expected);
    },
  );
});

describe('Play referrer', () => {
  const values = {
    utmSource: 'meta',
    utmMedium: null,
    utmCampaign: 'Summer Launch & more',
    utmTerm: null,
    utmContent: 'vidéo',
  };

  it('is ar_click_id plus UTM values, encoded once inside and once as the referrer parameter', () => {
    const url = playUrl(
      'https://play.google.com/store/apps/details?id=com.example.fittrack',
      'arc_7Hq2LmX9pR4sAbCdEfGh',
      values,
    );
    expect(url).toBe(
      'https://play.google.com/store/apps/details?id=com.example.fittrack&referrer=' +
        'ar_click_id%3Darc_7Hq2LmX9pR4sAbCdEfGh%26utm_source%3Dmeta%26utm_medium%3Dpaid%26utm_campaign%3DSummer%2520Launch%2520%2526%2520more%26utm_content%3Dvid%25C3%25A9o',
    );
    // Decode it back the way Play (once) and the SDK protocol's parser (split, then decode) do.
    const referrer = new URL(url).searchParams.get('referrer')!;
    expect(referrer).toBe(playReferrer('arc_7Hq2LmX9pR4sAbCdEfGh', values));
    const parsed = Object.fromEntries(
      referrer
        .split('&')
        .map((p) => p.split('='))
        .map(([k, v]) => [k, decodeURIComponent(v)]),
    );
    expect(parsed).toEqual({
      ar_click_id: 'arc_7Hq2LmX9pR4sAbCdEfGh',
      utm_source: 'meta',
      utm_medium: 'paid',
      utm_campaign: 'Summer Launch & more',
      utm_content: 'vidéo',
    });
  });

  it('replaces a referrer already in the store URL', () => {
    const url = playUrl(
      'https://play.google.com/store/apps/details?id=x.y&referrer=old&hl=en',
      'arc_1',
      values,
    );
    expect(new URL(url).searchParams.getAll('referrer')).toHaveLength(1);
    expect(new URL(url).searchParams.get('hl')).toBe('en');
  });
});

describe('destination', () => {
  const v = {
    utmSource: 'other',
    utmMedium: null,
    utmCampaign: null,
    utmTerm: null,
    utmContent: null,
  };
  const all = {
    ios: 'https://apps.apple.com/app/id1',
    android: 'https://play.google.com/store/apps/details?id=a.b',
    web: 'https://example.com/?x=1',
  };
  it.each([
    ['ios', 'all', all, { kind: 'redirect', url: all.ios }],
    [
      'android',
      'all',
      all,
      { kind: 'redirect', url: expect.stringContaining('referrer=ar_click_id%3Darc_1') },
    ],
    ['web', 'all', all, { kind: 'redirect', url: 'https://example.com/?x=1&ar_click_id=arc_1' }],
    [
      'ios',
      'no iOS',
      { ...all, ios: null },
      { kind: 'redirect', url: expect.stringContaining('example.com') },
    ],
    ['web', 'no web', { ...all, web: null }, { kind: 'landing' }],
    ['web', 'none', { ios: null, android: null, web: null }, { kind: 'none' }],
  ] as const)(
    'by platform, falling back to the web, then to the landing page: %s with %s',
    (platform, _case, destinations, expected) => {
      expect(chooseDestination(platform, destinations, 'arc_1', v)).toEqual(expected);
    },
  );
});

describe('devices and bots', () => {
  it.each([
    [
      'iphoneSafari',
      { platform: 'ios', osVersion: '17.4.1', deviceModel: 'iPhone', botUserAgent: false },
    ],
    [
      'androidChrome',
      { platform: 'android', osVersion: '14', deviceModel: 'SM-S918B', botUserAgent: false },
    ],
    ['desktopChrome', { platform: 'web', botUserAgent: false }],
    ['iphoneInstagram', { platform: 'ios', botUserAgent: false }],
  ] as const)('parses the real User-Agent %s', (name, expected) => {
    expect(describeUserAgent(UA[name])).toMatchObject(expected);
  });

  it.each(['facebookexternalhit', 'slackbot', 'twitterbot', 'googleAdsBot', 'whatsapp'] as const)(
    '%s is a bot',
    (name) => {
      expect(botReason('GET', {}, describeUserAgent(UA[name]))).toBe('user_agent');
    },
  );

  const person = describeUserAgent(UA.iphoneSafari);
  it.each([
    ['a person', 'GET', {}, person, null],
    ['HEAD', 'HEAD', {}, person, 'head_request'],
    ['Sec-Purpose: prefetch', 'GET', { 'sec-purpose': 'prefetch;prerender' }, person, 'prefetch'],
    ['Purpose: prefetch', 'GET', { purpose: 'prefetch' }, person, 'prefetch'],
    ['X-Purpose: preview', 'GET', { 'x-purpose': 'preview' }, person, 'prefetch'],
    ['no User-Agent', 'GET', {}, null, 'missing_user_agent'],
  ] as const)(
    'flags HEAD, prefetch and preview requests and a missing User-Agent: %s',
    (_case, method, headers, device, expected) => {
      expect(botReason(method, headers, device)).toBe(expected);
    },
  );

  it.each([
    ['de-CH,de;q=0.9,en;q=0.8', 'de-CH'],
    ['*', null],
    [undefined, null],
  ])('reads the primary language of %s', (header, expected) => {
    expect(primaryLanguage(header)).toBe(expected);
  });
});

describe('click ids', () => {
  it('are arc_ + 20 base62 characters, unique, and sort (as bytes) in time order', () => {
    const times = [0, 61, 62, 1_700_000_000_000, 1_700_000_000_001, Date.now(), 3_500_000_000_000];
    const ids = times.map((t) => newClickId(t));
    for (const id of ids) expect(id).toMatch(/^arc_[A-Za-z0-9]{20}$/);
    const bytewise = [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(bytewise).toEqual(ids);
    const same = new Set(Array.from({ length: 10_000 }, () => newClickId(1_700_000_000_000)));
    expect(same.size).toBe(10_000);
  });
});

describe('rapid repeats', () => {
  it('marks a repeat of the same link, IP and UA inside the window, not after it or from elsewhere', () => {
    const r = new RepeatDetector(30_000);
    const c = (id: string, over = {}) => ({
      id,
      link_id: 'l1',
      environment: 'live' as const,
      ip: '1.2.3.4',
      user_agent: UA.iphoneSafari,
      ...over,
    });
    expect(r.check(c('a'), 0)).toBeNull();
    expect(r.check(c('b'), 10_000)).toBe('a');
    expect(r.check(c('c', { ip: '5.6.7.8' }), 10_000)).toBeNull();
    expect(r.check(c('d', { link_id: 'l2' }), 10_000)).toBeNull();
    expect(r.check(c('e'), 31_000)).toBeNull();
    expect(r.check(c('f'), 32_000)).toBe('e');
    expect(r.check(c('g'), 61_500)).toBe(null); // e is 30.5 s old
    expect(r.check(c('h'), 100_000)).toBe(null);
    expect(r.check(c('i'), 129_999)).toBe('h');
  });

  it('recognises every click of a full generation, whatever its key', () => {
    const r = new RepeatDetector(30_000, 20_000);
    const click = (i: number) => ({
      id: `c${i}`,
      link_id: `l${i % 7}`,
      environment: 'live' as const,
      ip: `10.0.${(i >> 8) & 255}.${i & 255}`,
      user_agent: `ua ${i % 13}`,
    });
    for (let i = 0; i < 9_999; i++) expect(r.check(click(i), 1_000)).toBeNull();
    for (let i = 0; i < 9_999; i++)
      expect(r.check({ ...click(i), id: 'again' }, 2_000)).toBe(`c${i}`);
    expect(r.check({ ...click(1), environment: 'sandbox' }, 2_000)).toBeNull();
    expect(r.check({ ...click(1), user_agent: null }, 2_000)).toBeNull();
  });

  it('keeps at most maxEntries clicks in memory', () => {
    const r = new RepeatDetector(30_000, 1_000);
    for (let i = 0; i < 10_000; i++)
      r.check(
        {
          id: `c${i}`,
          link_id: 'l1',
          environment: 'live',
          ip: `10.0.${i >> 8}.${i & 255}`,
          user_agent: 'ua',
        },
        i,
      );
    expect(r.size).toBeLessThanOrEqual(1_000);
    // the most recent clicks are still recognised
    expect(
      r.check(
        {
          id: 'again',
          link_id: 'l1',
          environment: 'live',
          ip: `10.0.${9_999 >> 8}.${9_999 & 255}`,
          user_agent: 'ua',
        },
        10_000,
      ),
    ).toBe('c9999');
  });
});
