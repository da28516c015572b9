/** Referrer, locale / timezone and AdServices payload parsing: plain functions. */
import { describe, expect, it } from 'vitest';
import { parseAdServicesPayload, quoteBigIntegers } from './adservices.ts';
import { parseLocale, utcOffsetMinutes } from './locale.ts';
import { parseInstallReferrer, referrerNetwork } from './referrer.ts';

describe('install referrer (docs/spec/sdk-protocol.md §4.4 table)', () => {
  it('platform link: click id plus UTM values', () => {
    const r = parseInstallReferrer('ar_click_id=arc_7Hq2LmX9pR4s&utm_source=meta&utm_medium=paid&utm_campaign=summer_launch')!;
    expect(r).toMatchObject({ arClickId: 'arc_7Hq2LmX9pR4s', utmSource: 'meta', utmMedium: 'paid', utmCampaign: 'summer_launch', organic: false });
  });

  it('double-encoded: decoded once, then handled like the plain form', () => {
    const r = parseInstallReferrer('ar_click_id%3Darc_7Hq2LmX9pR4s%26utm_source%3Dmeta')!;
    expect(r.arClickId).toBe('arc_7Hq2LmX9pR4s');
    expect(r.utmSource).toBe('meta');
  });

  it('organic markers are not Google', () => {
    expect(parseInstallReferrer('utm_source=google-play&utm_medium=organic')).toMatchObject({ organic: true, hasAdData: false });
    expect(parseInstallReferrer('utm_source=(not%20set)&utm_medium=(not%20set)')).toMatchObject({ organic: true, hasAdData: false, utmSource: null });
  });

  it('Google Ads: gclid → google referrer', () => {
    const r = parseInstallReferrer('gclid=Cj0KCQ&utm_source=google&utm_medium=cpc')!;
    expect(r.hasAdData).toBe(true);
    expect(referrerNetwork(r)).toBe('google');
  });

  it('first occurrence wins, + is a space, malformed escapes stay as they are', () => {
    const r = parseInstallReferrer('utm_campaign=first+try&utm_campaign=second&utm_term=100%&k=%E2%82%AC')!;
    expect(r.utmCampaign).toBe('first try');
    expect(r.utmTerm).toBe('100%');
    expect(r.params.k).toBe('€');
  });

  it('absent or empty → no referrer', () => {
    expect(parseInstallReferrer(null)).toBeNull();
    expect(parseInstallReferrer('')).toBeNull();
  });
});

describe('locale and timezone (§4.5)', () => {
  it('language and region', () => {
    expect(parseLocale('en_US')).toEqual({ language: 'en', region: 'US' });
    expect(parseLocale('zh_Hans_CN')).toEqual({ language: 'zh', region: 'CN' });
    expect(parseLocale('en_US@rg=gbzzzz')).toEqual({ language: 'en', region: 'US' });
    expect(parseLocale('iw_IL')).toEqual({ language: 'he', region: 'IL' });
    expect(parseLocale('in')).toEqual({ language: 'id', region: null });
    expect(parseLocale('es-419')).toEqual({ language: 'es', region: '419' });
  });

  it('UTC offsets: IANA, numeric, unambiguous abbreviations; ambiguous ones unknown', () => {
    const winter = new Date('2026-01-15T12:00:00Z');
    expect(utcOffsetMinutes('America/Los_Angeles', winter)).toBe(-480);
    expect(utcOffsetMinutes('Europe/London', new Date('2026-07-01T12:00:00Z'))).toBe(60);
    expect(utcOffsetMinutes('UTC')).toBe(0);
    expect(utcOffsetMinutes('-03')).toBe(-180);
    expect(utcOffsetMinutes('+05:30')).toBe(330);
    expect(utcOffsetMinutes('GMT+5')).toBe(300);
    expect(utcOffsetMinutes('PDT')).toBe(-420);
    expect(utcOffsetMinutes('CEST')).toBe(120);
    expect(utcOffsetMinutes('IST')).toBeNull();
    expect(utcOffsetMinutes('BST')).toBeNull();
    expect(utcOffsetMinutes('Mars/Olympus')).toBeNull();
  });
});

describe('AdServices payload', () => {
  it('ids become strings, without losing 64-bit precision', () => {
    const text = '{"attribution":true,"orgId":40669820,"campaignId":9007199254740993123,"adGroupId":542317095,"adId":542317136,"keywordId":87675432,"countryOrRegion":"US","conversionType":"Download","claimType":"Click","clickDate":"2026-11-23T08:01Z"}';
    const a = parseAdServicesPayload(JSON.parse(quoteBigIntegers(text)));
    expect(a).toMatchObject({ kind: 'attributed', record: { orgId: '40669820', campaignId: '9007199254740993123', keywordId: '87675432', testData: false } });
  });

  it('false is a definitive "not attributed"; test data is marked', () => {
    expect(parseAdServicesPayload({ attribution: false })).toEqual({ kind: 'not_attributed' });
    const t = parseAdServicesPayload({ attribution: true, orgId: 1234567890, campaignId: 1234567890, adGroupId: 1234567890, keywordId: 12323222 });
    expect(t.kind === 'attributed' && t.record.testData).toBe(true);
    expect(parseAdServicesPayload('nope').kind).toBe('unavailable');
  });
});
