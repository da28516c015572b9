/** Referrer, locale / timezone and AdServices payload parsing: plain functions. */
import { describe, expect, it } from 'vitest';
import { parseAdServicesPayload, quoteBigIntegers } from './adservices.ts';
import { parseLocale, utcOffsetMinutes } from './locale.ts';
import { parseInstallReferrer, referrerNetwork } from './referrer.ts';

describe('install referrer (docs/spec/sdk-protocol.md §4.4 table)', () => {
  it('platform link: click id plus UTM values', () => {
    const r = parseInstallReferrer(
      'ar_click_id=arc_7Hq2LmX9pR4s&utm_source=meta&utm_medium=paid&utm_campaign=summer_launch',
    )!;
    expect(r).toMatchObject({
      arClickId: 'arc_7Hq2LmX9pR4s',
      utmSource: 'meta',
      utmMedium: 'paid',
      utmCampaign: 'summer_launch',
      organic: false,
    });
  });

  it('double-encoded: decoded once, then handled like the plain form', () => {
    const r = parseInstallReferrer('ar_click_id%3Darc_7Hq2LmX9pR4s%26utm_source%3Dmeta')!;
    expect(r.arClickId).toBe('arc_7Hq2LmX9pR4s');
    expect(r.utmSource).toBe('meta');
  });

  it.each([
    ['utm_source=google-play&utm_medium=organic', { organic: true, hasAdData: false }],
    [
      'utm_source=(not%20set)&utm_medium=(not%20set)',
      { organic: true, hasAdData: false, utmSource: null },
    ],
  ])('organic markers are not Google: %s', (referrer, expected) => {
    expect(parseInstallReferrer(referrer)).toMatchObject(expected);
  });

  it('Google Ads: gclid → google referrer', () => {
    const r = parseInstallReferrer('gclid=Cj0KCQ&utm_source=google&utm_medium=cpc')!;
    expect(r.hasAdData).toBe(true);
    expect(referrerNetwork(r)).toBe('google');
  });

  it('first occurrence wins, + is a space, malformed escapes stay as they are', () => {
    const r = parseInstallReferrer(
      'utm_campaign=first+try&utm_campaign=second&utm_term=100%&k=%E2%82%AC',
    )!;
    expect(r.utmCampaign).toBe('first try');
    expect(r.utmTerm).toBe('100%');
    expect(r.params.k).toBe('€');
  });

  it.each([null, ''])('absent or empty (%o) → no referrer', (referrer) => {
    expect(parseInstallReferrer(referrer)).toBeNull();
  });
});

describe('locale and timezone (§4.5)', () => {
  it.each([
    ['en_US', { language: 'en', region: 'US' }],
    ['zh_Hans_CN', { language: 'zh', region: 'CN' }],
    ['en_US@rg=gbzzzz', { language: 'en', region: 'US' }],
    ['iw_IL', { language: 'he', region: 'IL' }],
    ['in', { language: 'id', region: null }],
    ['es-419', { language: 'es', region: '419' }],
  ])('language and region of %s', (locale, expected) => {
    expect(parseLocale(locale)).toEqual(expected);
  });

  const winter = new Date('2026-01-15T12:00:00Z');
  it.each([
    ['America/Los_Angeles', winter, -480],
    ['Europe/London', new Date('2026-07-01T12:00:00Z'), 60],
    ['UTC', undefined, 0],
    ['-03', undefined, -180],
    ['+05:30', undefined, 330],
    ['GMT+5', undefined, 300],
    ['PDT', undefined, -420],
    ['CEST', undefined, 120],
    ['IST', undefined, null],
    ['BST', undefined, null],
    ['Mars/Olympus', undefined, null],
  ])(
    'UTC offsets: IANA, numeric, unambiguous abbreviations; ambiguous ones unknown: %s',
    (zone, at, minutes) => {
      expect(utcOffsetMinutes(zone, at)).toBe(minutes);
    },
  );

  it('UTC offsets change at the daylight-saving switch, also when asked again around it (cached per quarter hour)', () => {
    // New York switches to EDT on 2026-03-08 at 02:00 EST = 07:00 UTC.
    const asked = [
      ['2026-03-08T06:59:59.999Z', -300],
      ['2026-03-08T07:00:00.000Z', -240],
      ['2026-03-08T06:45:00.000Z', -300],
      ['2026-03-08T07:14:59.999Z', -240],
      ['2026-03-08T06:59:00.000Z', -300],
    ] as const;
    for (const [at, minutes] of asked)
      expect(utcOffsetMinutes('America/New_York', new Date(at)), at).toBe(minutes);
    expect(utcOffsetMinutes('Asia/Kathmandu', winter)).toBe(345);
  });
});

describe('AdServices payload', () => {
  it('ids become strings, without losing 64-bit precision', () => {
    const text =
      '{"attribution":true,"orgId":40669820,"campaignId":9007199254740993123,"adGroupId":542317095,"adId":542317136,"keywordId":87675432,"countryOrRegion":"US","conversionType":"Download","claimType":"Click","clickDate":"2026-11-23T08:01Z"}';
    const a = parseAdServicesPayload(JSON.parse(quoteBigIntegers(text)));
    expect(a).toMatchObject({
      kind: 'attributed',
      record: {
        orgId: '40669820',
        campaignId: '9007199254740993123',
        keywordId: '87675432',
        testData: false,
      },
    });
  });

  it('false is a definitive "not attributed"; test data is marked', () => {
    expect(parseAdServicesPayload({ attribution: false })).toEqual({ kind: 'not_attributed' });
    const t = parseAdServicesPayload({
      attribution: true,
      orgId: 1234567890,
      campaignId: 1234567890,
      adGroupId: 1234567890,
      keywordId: 12323222,
    });
    expect(t.kind === 'attributed' && t.record.testData).toBe(true);
    expect(parseAdServicesPayload('nope').kind).toBe('unavailable');
  });
});
