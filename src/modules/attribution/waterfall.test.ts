/** The waterfall as plain functions: no server, no database. */
import { describe, expect, it } from 'vitest';
import { parseInstallReferrer } from './referrer.ts';
import {
  decideAttribution,
  osVersionsAgree,
  SHARED_IP_MAX_DEVICES,
  withinClickWindow,
  type AsaOutcome,
  type CandidateClick,
  type InstallSignals,
  type WaterfallInput,
} from './waterfall.ts';

const NOW = new Date('2026-11-23T12:00:00.000Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3600_000);
const APP = 'app_0a1b2c3d4e5';

let n = 0;
function click(over: Partial<CandidateClick> = {}): CandidateClick {
  n++;
  return {
    id: `arc_click${n}`,
    app_id: APP,
    link_id: 'fittrack-meta',
    environment: 'live',
    clicked_at: hoursAgo(1),
    network: 'meta',
    campaign: 'summer_launch',
    campaign_id: '1202',
    campaign_name: 'Summer Launch',
    ad_group_id: '1203',
    ad_group_name: null,
    ad_id: '1204',
    keyword: null,
    fbclid: 'IwAR',
    gclid: null,
    ttclid: null,
    utm_campaign: 'summer_launch',
    idfa: null,
    gaid: null,
    query_params: { fbclid: 'IwAR', invite_code: 'K7P2QX', n: 3, gone: null },
    platform: 'ios',
    os_version: '17.5',
    language: 'en-US',
    user_agent: 'Mozilla/5.0 (iPhone)',
    device_model: 'iPhone',
    country: 'US',
    is_bot: false,
    link_custom_data: { screen: 'paywall' },
    link_campaign_name: null,
    used: false,
    ...over,
  };
}

function signals(over: Partial<InstallSignals> = {}): InstallSignals {
  return {
    platform: 'ios',
    osVersion: '17.5.1',
    language: 'en',
    ip: '203.0.113.7',
    idfa: null,
    gaid: null,
    clickIds: [],
    referrer: null,
    referrerClickTs: null,
    referrerInstallTs: null,
    hasAsaToken: false,
    ...over,
  };
}

function decide(over: Partial<WaterfallInput> & { s?: Partial<InstallSignals> } = {}) {
  const { s, ...rest } = over;
  return decideAttribution({
    appId: APP,
    environment: 'live',
    signals: signals(s),
    candidates: { byClickId: [], byDeviceId: [], byIp: [] },
    asa: { kind: 'absent' },
    settings: { clickWindowHours: 168, probabilisticEnabled: true, probabilisticWindowHours: 24 },
    now: NOW,
    ...rest,
  });
}

const ASA_YES: AsaOutcome = {
  kind: 'attributed',
  record: {
    orgId: '40669820',
    campaignId: '542370539',
    adGroupId: '542317095',
    adId: '542317136',
    keywordId: '87675432',
    countryOrRegion: 'US',
    conversionType: 'Download',
    claimType: 'Click',
    clickDate: '2026-11-23T08:01Z',
    testData: false,
  },
};

describe('click id rule', () => {
  it('a click id already credited to another device is still credited, and flagged', () => {
    const fresh = click();
    const first = decide({
      s: { clickIds: [fresh.id] },
      candidates: { byClickId: [fresh], byDeviceId: [], byIp: [] },
    });
    expect(first.explanation.clickIdAlreadyCredited).toBeUndefined();
    const used = click({ used: true });
    const again = decide({
      s: { clickIds: [used.id] },
      candidates: { byClickId: [used], byDeviceId: [], byIp: [] },
    });
    expect(again.fields.match_type).toBe('click_id');
    expect(again.explanation.clickIdAlreadyCredited).toBe(true);
  });

  it('matches a click of the same app and environment, copying its ids, query params and link custom data', () => {
    const c = click();
    const d = decide({
      s: { clickIds: [c.id] },
      candidates: { byClickId: [c], byDeviceId: [], byIp: [] },
    });
    expect(d.status).toBe('resolved');
    expect(d.fields).toMatchObject({
      network: 'meta',
      match_type: 'click_id',
      click_id: c.id,
      campaign: 'summer_launch',
      campaign_id: '1202',
      ad_group_id: '1203',
      ad_id: '1204',
      fbclid: 'IwAR',
      custom_data: { screen: 'paywall' },
    });
    // Flat string → string: numbers stringified, nulls dropped.
    expect(d.fields.query_params).toEqual({ fbclid: 'IwAR', invite_code: 'K7P2QX', n: '3' });
    expect(d.explanation).toMatchObject({ rule: 'click_id', windowHours: 168 });
  });

  it('window edges: just inside matches, just outside does not', () => {
    const inside = click({ clicked_at: hoursAgo(168 - 1 / 60) });
    const outside = click({ clicked_at: hoursAgo(168 + 1 / 60) });
    expect(
      decide({
        s: { clickIds: [inside.id], ip: null },
        candidates: { byClickId: [inside], byDeviceId: [], byIp: [] },
      }).fields.match_type,
    ).toBe('click_id');
    const d = decide({
      s: { clickIds: [outside.id], ip: null },
      candidates: { byClickId: [outside], byDeviceId: [], byIp: [] },
    });
    expect(d.fields.match_type).toBe('organic');
    expect(d.explanation.considered).toContainEqual({
      rule: 'click_id',
      clickId: outside.id,
      outcome: 'outside_window',
    });
  });

  it.each([
    [24, 'organic'],
    [48, 'click_id'],
  ])(
    'honours an app-configured window: a 30-hour-old click with %d hours → %s',
    (clickWindowHours, matchType) => {
      const c = click({ clicked_at: hoursAgo(30) });
      const d = decide({
        s: { clickIds: [c.id], ip: null },
        candidates: { byClickId: [c], byDeviceId: [], byIp: [] },
        settings: { clickWindowHours, probabilisticEnabled: false, probabilisticWindowHours: 24 },
      });
      expect(d.fields.match_type).toBe(matchType);
    },
  );

  // The stored click is 170 hours old (first open came late); the device clock is 20 s off.
  it.each([
    ['install began an hour after the click: credited', 0, 3600, true],
    ['install began after the window: not credited', 0, 169 * 3600, false],
    [
      'a device clock two days off is not trusted: server time decides',
      48 * 3600,
      49 * 3600,
      false,
    ],
    ['referrer_click_ts = 0 means no click', null, 0, false],
  ])(
    'uses Play timestamps (click → install begin) when they agree with the stored click: %s',
    (_case, clickOffset, installOffset, expected) => {
      const c = click({ clicked_at: hoursAgo(170) });
      const clickTs = Math.floor(c.clicked_at.getTime() / 1000) + 20;
      const play = {
        referrerClickTs: clickOffset === null ? 0 : clickTs + clickOffset,
        referrerInstallTs: clickTs + installOffset,
      };
      expect(withinClickWindow(c, play, 168, NOW)).toBe(expected);
    },
  );

  it.each([
    [
      'another environment (sandbox isolation)',
      { environment: 'sandbox' as const },
      'other_environment',
    ],
    ['another app', { app_id: 'app_other' }, 'other_app'],
    ['a bot', { is_bot: true }, 'bot'],
  ])('refuses the click of %s', (_case, over, outcome) => {
    const c = click(over);
    const d = decide({
      s: { clickIds: [c.id], ip: null },
      candidates: { byClickId: [c], byDeviceId: [], byIp: [] },
    });
    expect(d.fields.match_type).toBe('organic');
    expect(d.explanation.considered[0].outcome).toBe(outcome);
  });

  it("prefers the body's click id, falls back to the referrer's when the body's is unknown", () => {
    const body = click();
    const ref = click();
    const both = { byClickId: [ref, body], byDeviceId: [], byIp: [] };
    expect(decide({ s: { clickIds: [body.id, ref.id] }, candidates: both }).fields.click_id).toBe(
      body.id,
    );
    expect(
      decide({ s: { clickIds: ['arc_unknown', ref.id] }, candidates: both }).fields.click_id,
    ).toBe(ref.id);
  });

  it('beats Apple, device id and probabilistic candidates', () => {
    const c = click({ clicked_at: hoursAgo(5) });
    const newer = click({ clicked_at: hoursAgo(1), idfa: 'AAAA', ip: undefined } as never);
    const d = decide({
      s: { clickIds: [c.id], idfa: 'AAAA', hasAsaToken: true },
      asa: ASA_YES,
      candidates: { byClickId: [c], byDeviceId: [newer], byIp: [newer] },
    });
    expect(d.fields).toMatchObject({ match_type: 'click_id', click_id: c.id });
  });
});

describe('referrer rule', () => {
  it('a Google referrer with gclid and no platform click → referrer / google', () => {
    const referrer = parseInstallReferrer(
      'gclid=Cj0KCQjw&utm_source=google&utm_medium=cpc&utm_campaign=uac_q2&campaign_id=2134',
    );
    const d = decide({ s: { platform: 'android', referrer } });
    expect(d.fields).toMatchObject({
      match_type: 'referrer',
      network: 'google',
      gclid: 'Cj0KCQjw',
      campaign: 'uac_q2',
      campaign_id: '2134',
    });
    expect(d.fields.query_params).toEqual({
      gclid: 'Cj0KCQjw',
      utm_source: 'google',
      utm_medium: 'cpc',
      utm_campaign: 'uac_q2',
      campaign_id: '2134',
    });
  });

  it('a referrer whose platform click is unknown but has utm data → referrer, network from utm_source', () => {
    const referrer = parseInstallReferrer(
      'ar_click_id=arc_gone&utm_source=facebook&utm_medium=paid&utm_campaign=summer',
    );
    const d = decide({ s: { platform: 'android', clickIds: ['arc_gone'], referrer } });
    expect(d.fields).toMatchObject({ match_type: 'referrer', network: 'meta', campaign: 'summer' });
  });

  it('the Play organic marker is not Google', () => {
    const referrer = parseInstallReferrer('utm_source=google-play&utm_medium=organic');
    const d = decide({ s: { platform: 'android', referrer, ip: null } });
    expect(d.fields.match_type).toBe('organic');
    expect(d.fields.network).toBe('organic');
  });
});

describe('Apple Search Ads rule', () => {
  it('attributed → adservices / apple_search_ads with string ids', () => {
    const d = decide({ s: { hasAsaToken: true }, asa: ASA_YES });
    expect(d.fields).toMatchObject({
      network: 'apple_search_ads',
      match_type: 'adservices',
      campaign_id: '542370539',
      ad_group_id: '542317095',
      ad_id: '542317136',
      keyword: '87675432',
      country: 'US',
    });
    expect(d.fields.clicked_at?.toISOString()).toBe('2026-11-23T08:01:00.000Z');
  });

  it('not answered yet → pending (undetermined, never organic)', () => {
    const d = decide({ s: { hasAsaToken: true }, asa: { kind: 'pending', reason: 'timeout' } });
    expect(d.status).toBe('pending');
  });

  it.each<AsaOutcome>([{ kind: 'not_attributed' }, { kind: 'invalid_token' }, { kind: 'expired' }])(
    '"not attributed" and invalid tokens continue down the waterfall: $kind',
    (asa) => {
      const c = click({ idfa: '6D92078A-8246-4BA4-AE5B-76104861E7DC' });
      const d = decide({
        s: { idfa: '6D92078A-8246-4BA4-AE5B-76104861E7DC' },
        asa,
        candidates: { byClickId: [], byDeviceId: [c], byIp: [] },
      });
      expect(d.status).toBe('resolved');
      expect(d.fields.match_type).toBe('device_id');
      expect(d.explanation.asa).toBe(asa.kind);
    },
  );
});

describe('device id rule', () => {
  it('IDFA equal to a click idfa (any case) → device_id, the last click wins', () => {
    const older = click({ idfa: '6d92078a-8246-4ba4-ae5b-76104861e7dc', clicked_at: hoursAgo(20) });
    const newer = click({ idfa: '6D92078A-8246-4BA4-AE5B-76104861E7DC', clicked_at: hoursAgo(2) });
    const d = decide({
      s: { idfa: '6D92078A-8246-4BA4-AE5B-76104861E7DC' },
      candidates: { byClickId: [], byDeviceId: [older, newer], byIp: [] },
    });
    expect(d.fields).toMatchObject({ match_type: 'device_id', click_id: newer.id });
    expect(d.explanation.candidates).toBe(2);
  });

  it('GAID matches Android clicks; an already credited click is not reused', () => {
    const used = click({
      gaid: '5f8e2c1a-9b3d-4e7f-a6c0-1d2e3f4a5b6c',
      used: true,
      clicked_at: hoursAgo(1),
    });
    const free = click({ gaid: '5f8e2c1a-9b3d-4e7f-a6c0-1d2e3f4a5b6c', clicked_at: hoursAgo(3) });
    const d = decide({
      s: { platform: 'android', gaid: '5f8e2c1a-9b3d-4e7f-a6c0-1d2e3f4a5b6c' },
      candidates: { byClickId: [], byDeviceId: [used, free], byIp: [] },
    });
    expect(d.fields.click_id).toBe(free.id);
  });

  it('deterministic device id beats a newer probabilistic candidate', () => {
    const byId = click({ idfa: 'AAAA', clicked_at: hoursAgo(10) });
    const byIp = click({ clicked_at: hoursAgo(1) });
    const d = decide({
      s: { idfa: 'aaaa' },
      candidates: { byClickId: [], byDeviceId: [byId], byIp: [byIp] },
    });
    expect(d.fields).toMatchObject({ match_type: 'device_id', click_id: byId.id });
  });
});

describe('probabilistic rule', () => {
  it('same IP, platform, OS version and language → probabilistic; the most recent eligible click wins', () => {
    const a = click({ clicked_at: hoursAgo(5) });
    const b = click({ clicked_at: hoursAgo(2) });
    const d = decide({ candidates: { byClickId: [], byDeviceId: [], byIp: [a, b] } });
    expect(d.fields).toMatchObject({ match_type: 'probabilistic', click_id: b.id });
    expect(d.explanation).toMatchObject({ rule: 'probabilistic', windowHours: 24 });
  });

  it.each<Partial<CandidateClick>>([
    { platform: 'android' },
    { os_version: '16.4' },
    { language: 'de-DE' },
    { language: null },
    { platform: null },
  ])('each signal must agree: a click with %o is not matched', (over) => {
    const d = decide({ candidates: { byClickId: [], byDeviceId: [], byIp: [click(over)] } });
    expect(d.fields.match_type).toBe('organic');
  });

  it.each([
    ['just inside the window', 24 - 1 / 60, true, 'probabilistic'],
    ['just outside the window', 24 + 1 / 60, true, 'organic'],
    ['inside the window, opted out', 24 - 1 / 60, false, 'organic'],
  ])('window edges and the opt-out: %s → %s', (_case, age, probabilisticEnabled, matchType) => {
    const d = decide({
      settings: { clickWindowHours: 168, probabilisticEnabled, probabilisticWindowHours: 24 },
      candidates: { byClickId: [], byDeviceId: [], byIp: [click({ clicked_at: hoursAgo(age) })] },
    });
    expect(d.fields.match_type).toBe(matchType);
  });

  it('refuses IPs that many devices share (carrier NAT, offices)', () => {
    const crowd = Array.from({ length: SHARED_IP_MAX_DEVICES + 1 }, (_, i) =>
      click({ user_agent: `UA ${i}`, clicked_at: hoursAgo(i + 1) }),
    );
    const d = decide({ candidates: { byClickId: [], byDeviceId: [], byIp: crowd } });
    expect(d.fields.match_type).toBe('organic');
    expect(d.explanation.considered).toContainEqual({
      rule: 'probabilistic',
      outcome: 'shared_ip',
    });
    // The same device clicking several times is not a crowd.
    const same = Array.from({ length: 6 }, (_, i) => click({ clicked_at: hoursAgo(i + 1) }));
    expect(
      decide({ candidates: { byClickId: [], byDeviceId: [], byIp: same } }).fields.match_type,
    ).toBe('probabilistic');
  });

  it('ignores bot clicks and clicks of the other environment', () => {
    const d = decide({
      candidates: {
        byClickId: [],
        byDeviceId: [],
        byIp: [click({ is_bot: true }), click({ environment: 'sandbox' })],
      },
    });
    expect(d.fields.match_type).toBe('organic');
  });
});

describe('organic', () => {
  it('nothing matched → organic with empty maps and an explanation', () => {
    const d = decide({ s: { ip: null } });
    expect(d.status).toBe('resolved');
    expect(d.fields).toMatchObject({
      network: 'organic',
      match_type: 'organic',
      query_params: {},
      custom_data: {},
      click_id: null,
    });
    expect(d.explanation.rule).toBe('organic');
  });
});

describe('os version agreement', () => {
  it.each([
    ['17.5', '17.5.1', true],
    ['17_5_1', '17.5.1', true],
    ['14', '14', true],
    ['17.4', '17.5.1', false],
    [null, '17', false],
  ])(
    'compares the common prefix, accepting UA underscores: %s vs %s → %s',
    (click, install, agree) => {
      expect(osVersionsAgree(click, install)).toBe(agree);
    },
  );
});
