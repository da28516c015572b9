/**
 * The attribution waterfall: plain functions over plain data, no I/O.
 *
 * Entry point: `decideAttribution(input)`. Callers gather the candidate clicks and the Apple
 * AdServices outcome (see engine.ts); this file only decides, and explains the decision.
 *
 * Order (first rule that applies wins):
 *   1. click id (body `ar_click_id`, then the referrer's) → `click_id`;
 *      a Play referrer with ad data but no usable platform click → `referrer`;
 *   2. Apple Search Ads (AdServices token) → `adservices`, or undetermined while Apple has not answered;
 *   3. IDFA / GAID equal to a click's → `device_id`;
 *   4. probabilistic: same IP, platform, OS version and language, recent click → `probabilistic`;
 *   5. organic.
 */
import { type ParsedReferrer, referrerNetwork } from './referrer.ts';
import { flatStringMap } from '../../lib/string-map.ts';

export type Environment = 'live' | 'sandbox';

/** A stored click as the waterfall sees it (clicks row + its link's custom data). */
export type CandidateClick = {
  id: string;
  app_id: string;
  link_id: string;
  environment: Environment;
  clicked_at: Date;
  network: string;
  campaign: string | null;
  campaign_id: string | null;
  campaign_name: string | null;
  ad_group_id: string | null;
  ad_group_name: string | null;
  ad_id: string | null;
  keyword: string | null;
  fbclid: string | null;
  gclid: string | null;
  ttclid: string | null;
  utm_campaign: string | null;
  idfa: string | null;
  gaid: string | null;
  query_params: Record<string, unknown>;
  platform: string | null;
  os_version: string | null;
  language: string | null;
  user_agent: string | null;
  device_model: string | null;
  country: string | null;
  is_bot: boolean;
  link_custom_data: Record<string, unknown> | null;
  link_campaign_name: string | null;
  /** Already credited with an install (by any device). */
  used: boolean;
};

export type InstallSignals = {
  platform: string;
  osVersion: string | null;
  language: string | null;
  ip: string | null;
  idfa: string | null;
  gaid: string | null;
  /** Body `ar_click_id` first, then the referrer's when it differs (docs/spec/sdk-protocol.md §4.4 rule 6). */
  clickIds: string[];
  referrer: ParsedReferrer | null;
  /** Play timestamps, Unix seconds, device clock; null or 0 when absent. */
  referrerClickTs: number | null;
  referrerInstallTs: number | null;
  hasAsaToken: boolean;
};

export type AttributionSettings = {
  clickWindowHours: number;
  probabilisticEnabled: boolean;
  probabilisticWindowHours: number;
};

export type Candidates = {
  /** Clicks whose id is one of `signals.clickIds` (any app or environment: the waterfall checks). */
  byClickId: CandidateClick[];
  /** Clicks whose idfa or gaid equals the device's. */
  byDeviceId: CandidateClick[];
  /** Recent non-bot clicks from the install's IP, newest first. */
  byIp: CandidateClick[];
};

/** Apple AdServices payload fields the platform keeps (ids already stringified). */
export type AsaRecord = {
  orgId: string | null;
  campaignId: string | null;
  adGroupId: string | null;
  adId: string | null;
  keywordId: string | null;
  countryOrRegion: string | null;
  conversionType: string | null;
  claimType: string | null;
  clickDate: string | null;
  testData: boolean;
};

export type AsaOutcome =
  | { kind: 'absent' }
  | { kind: 'attributed'; record: AsaRecord }
  | { kind: 'not_attributed' }
  | { kind: 'invalid_token' }
  | { kind: 'expired' }
  /** Apple has not given a final answer yet (timeout, 404, 5xx): resolved in the background. */
  | { kind: 'pending'; reason: string };

export type AttributionFields = {
  network: string;
  match_type:
    | 'click_id'
    | 'referrer'
    | 'adservices'
    | 'device_id'
    | 'probabilistic'
    | 'organic'
    | 'pending';
  campaign: string | null;
  campaign_id: string | null;
  campaign_name: string | null;
  ad_group_id: string | null;
  ad_group_name: string | null;
  ad_id: string | null;
  keyword: string | null;
  link_id: string | null;
  click_id: string | null;
  fbclid: string | null;
  gclid: string | null;
  ttclid: string | null;
  query_params: Record<string, string>;
  custom_data: Record<string, string>;
  clicked_at: Date | null;
  country: string | null;
};

export type Considered = { rule: string; clickId?: string; outcome: string };

export type Explanation = {
  rule: AttributionFields['match_type'];
  /** Clicks the matched rule looked at. */
  candidates: number;
  windowHours: number | null;
  considered: Considered[];
  asa?: string;
  sharedIpDevices?: number;
  /**
   * The matched click id was already credited to another device. Still credited (a click id is
   * deterministic and legitimately reaches several installs only rarely), but flagged: a click id
   * travels in URLs, so anyone who sees one can present it (docs/security.md).
   */
  clickIdAlreadyCredited?: true;
};

export type Decision = {
  status: 'resolved' | 'pending';
  fields: AttributionFields;
  explanation: Explanation;
};

export type WaterfallInput = {
  appId: string;
  environment: Environment;
  signals: InstallSignals;
  candidates: Candidates;
  asa: AsaOutcome;
  settings: AttributionSettings;
  now: Date;
  /** Clicks this device was already credited with (re-attribution never reuses them). */
  excludeClickIds?: string[];
};

/** More distinct device signatures than this behind one IP in the window: a shared IP (NAT, office). */
export const SHARED_IP_MAX_DEVICES = 3;
/** Play's device-clock click time must be this close to the stored click time to be trusted. */
const PLAY_CLOCK_TOLERANCE_MS = 24 * 3600_000;
/** Clock skew tolerated between a click's server time and the install. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;
/** Clicks are kept 30 days; no window reaches further. */
const MAX_LOOKBACK_MS = 30 * 24 * 3600_000;

const HOUR = 3600_000;

export function decideAttribution(input: WaterfallInput): Decision {
  const { signals, candidates, settings, now } = input;
  const considered: Considered[] = [];
  const excluded = new Set(input.excludeClickIds ?? []);
  const sameScope = (c: CandidateClick) =>
    c.app_id === input.appId && c.environment === input.environment;

  // 1. Click id: deterministic; the body's id is preferred over the referrer's.
  for (const id of signals.clickIds) {
    const click = candidates.byClickId.find((c) => c.id === id);
    const outcome = !click
      ? 'not_found'
      : click.app_id !== input.appId
        ? 'other_app'
        : click.environment !== input.environment
          ? 'other_environment'
          : click.is_bot
            ? 'bot'
            : excluded.has(click.id)
              ? 'already_credited_to_device'
              : !withinClickWindow(click, signals, settings.clickWindowHours, now)
                ? 'outside_window'
                : 'matched';
    considered.push({ rule: 'click_id', clickId: id, outcome });
    if (click && outcome === 'matched') {
      return resolved(fromClick('click_id', click), {
        rule: 'click_id',
        candidates: signals.clickIds.length,
        windowHours: settings.clickWindowHours,
        considered,
        ...(click.used ? { clickIdAlreadyCredited: true as const } : {}),
      });
    }
  }
  const ref = signals.referrer;
  if (ref?.hasAdData) {
    considered.push({ rule: 'referrer', outcome: 'matched' });
    return resolved(fromReferrer(ref), {
      rule: 'referrer',
      candidates: 0,
      windowHours: null,
      considered,
    });
  }
  if (ref?.organic) considered.push({ rule: 'referrer', outcome: 'organic_marker' });

  // 2. Apple Search Ads.
  const asa = input.asa;
  if (asa.kind !== 'absent') {
    considered.push({ rule: 'adservices', outcome: asa.kind });
    if (asa.kind === 'attributed') {
      return resolved(fromAsa(asa.record), {
        rule: 'adservices',
        candidates: 0,
        windowHours: null,
        considered,
        asa: asa.kind,
      });
    }
    if (asa.kind === 'pending') {
      // Never claim organic for an install Apple may still credit (docs/spec/sdk-protocol.md §4.10).
      return {
        status: 'pending',
        fields: pendingFields(),
        explanation: {
          rule: 'pending',
          candidates: 0,
          windowHours: null,
          considered,
          asa: asa.reason,
        },
      };
    }
  }
  const asaNote = asa.kind === 'absent' ? {} : { asa: asa.kind };

  // 3. Advertising id equal to a click's (IDFA / GAID).
  const ids = [signals.idfa, signals.gaid]
    .filter((v): v is string => !!v)
    .map((v) => v.toLowerCase());
  if (ids.length) {
    const eligible = candidates.byDeviceId
      .filter((c) => sameScope(c) && !c.is_bot && !c.used && !excluded.has(c.id))
      .filter(
        (c) =>
          (c.idfa && ids.includes(c.idfa.toLowerCase())) ||
          (c.gaid && ids.includes(c.gaid.toLowerCase())),
      )
      .filter((c) => withinClickWindow(c, signals, settings.clickWindowHours, now))
      .sort(newestFirst);
    considered.push({ rule: 'device_id', outcome: eligible.length ? 'matched' : 'no_click' });
    if (eligible.length) {
      return resolved(fromClick('device_id', eligible[0]), {
        rule: 'device_id',
        candidates: eligible.length,
        windowHours: settings.clickWindowHours,
        considered,
        ...asaNote,
      });
    }
  }

  // 4. Probabilistic: IP plus platform, OS version and language.
  if (settings.probabilisticEnabled && signals.ip) {
    const windowMs = settings.probabilisticWindowHours * HOUR;
    const recent = candidates.byIp.filter(
      (c) =>
        sameScope(c) &&
        !c.is_bot &&
        ageMs(c, now) <= windowMs &&
        ageMs(c, now) >= -FUTURE_TOLERANCE_MS,
    );
    const devices = new Set(recent.map(deviceSignature)).size;
    if (devices > SHARED_IP_MAX_DEVICES) {
      considered.push({ rule: 'probabilistic', outcome: 'shared_ip' });
    } else {
      const eligible = recent
        .filter((c) => !c.used && !excluded.has(c.id) && probabilisticAgrees(c, signals))
        .sort(newestFirst);
      considered.push({
        rule: 'probabilistic',
        outcome: eligible.length ? 'matched' : recent.length ? 'signals_differ' : 'no_click',
      });
      if (eligible.length) {
        return resolved(fromClick('probabilistic', eligible[0]), {
          rule: 'probabilistic',
          candidates: recent.length,
          windowHours: settings.probabilisticWindowHours,
          considered,
          sharedIpDevices: devices,
          ...asaNote,
        });
      }
    }
  }

  // 5. Organic.
  return resolved(organicFields(), {
    rule: 'organic',
    candidates: 0,
    windowHours: null,
    considered,
    ...asaNote,
  });
}

const resolved = (fields: AttributionFields, explanation: Explanation): Decision => ({
  status: 'resolved',
  fields,
  explanation,
});
const newestFirst = (a: CandidateClick, b: CandidateClick) =>
  b.clicked_at.getTime() - a.clicked_at.getTime();
const ageMs = (c: CandidateClick, now: Date) => now.getTime() - c.clicked_at.getTime();

/**
 * Click → install time inside the window. With Play timestamps (device clock) that agree with the
 * stored click time, the window is measured click → install begin, so a late first open still
 * counts; otherwise click → now (the first open).
 */
export function withinClickWindow(
  c: CandidateClick,
  s: Pick<InstallSignals, 'referrerClickTs' | 'referrerInstallTs'>,
  windowHours: number,
  now: Date,
): boolean {
  const serverAge = ageMs(c, now);
  if (serverAge < -FUTURE_TOLERANCE_MS || serverAge > MAX_LOOKBACK_MS) return false;
  const windowMs = windowHours * HOUR;
  if (serverAge <= windowMs) return true;
  const clickTs = s.referrerClickTs ?? 0;
  const installTs = s.referrerInstallTs ?? 0;
  if (
    clickTs > 0 &&
    installTs >= clickTs &&
    Math.abs(clickTs * 1000 - c.clicked_at.getTime()) <= PLAY_CLOCK_TOLERANCE_MS
  ) {
    return (installTs - clickTs) * 1000 <= windowMs;
  }
  return false;
}

const majorMinor = (v: string | null) => (v ?? '').replace(/_/g, '.').split('.').filter(Boolean);

/** OS versions agree when the shorter is a prefix of the longer (`17.5` ~ `17.5.1`). */
export function osVersionsAgree(a: string | null, b: string | null): boolean {
  const x = majorMinor(a);
  const y = majorMinor(b);
  if (!x.length || !y.length) return false;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return false;
  return true;
}

const primaryLanguage = (v: string | null) => (v ?? '').split(/[-_]/)[0].toLowerCase() || null;

function probabilisticAgrees(c: CandidateClick, s: InstallSignals): boolean {
  return (
    !!c.platform &&
    c.platform.toLowerCase() === s.platform.toLowerCase() &&
    osVersionsAgree(c.os_version, s.osVersion) &&
    !!s.language &&
    primaryLanguage(c.language) === primaryLanguage(s.language)
  );
}

const deviceSignature = (c: CandidateClick) =>
  [c.platform, c.os_version, c.device_model, primaryLanguage(c.language), c.user_agent].join('|');

function fromClick(
  matchType: 'click_id' | 'device_id' | 'probabilistic',
  c: CandidateClick,
): AttributionFields {
  return {
    network: c.network || 'other',
    match_type: matchType,
    campaign: c.campaign ?? c.link_campaign_name ?? c.utm_campaign ?? c.campaign_name,
    campaign_id: c.campaign_id,
    campaign_name: c.campaign_name ?? c.utm_campaign,
    ad_group_id: c.ad_group_id,
    ad_group_name: c.ad_group_name,
    ad_id: c.ad_id,
    keyword: c.keyword,
    link_id: c.link_id,
    click_id: c.id,
    fbclid: c.fbclid,
    gclid: c.gclid,
    ttclid: c.ttclid,
    query_params: flatStringMap(c.query_params),
    custom_data: flatStringMap(c.link_custom_data),
    clicked_at: c.clicked_at,
    country: c.country,
  };
}

function fromReferrer(r: ParsedReferrer): AttributionFields {
  return {
    ...organicFields(),
    network: referrerNetwork(r),
    match_type: 'referrer',
    campaign: r.utmCampaign ?? r.campaignName,
    campaign_id: r.campaignId,
    campaign_name: r.campaignName ?? r.utmCampaign,
    ad_group_id: r.adGroupId,
    ad_id: r.adId,
    keyword: r.utmTerm,
    fbclid: r.fbclid,
    gclid: r.gclid,
    ttclid: r.ttclid,
    query_params: flatStringMap(r.params),
  };
}

function fromAsa(a: AsaRecord): AttributionFields {
  return {
    ...organicFields(),
    network: 'apple_search_ads',
    match_type: 'adservices',
    // AdServices gives ids only; the campaign id is the reporting label until names are known.
    campaign: a.campaignId,
    campaign_id: a.campaignId,
    ad_group_id: a.adGroupId,
    ad_id: a.adId,
    keyword: a.keywordId,
    country: a.countryOrRegion,
    clicked_at: a.clickDate ? parseLenientDate(a.clickDate) : null,
  };
}

export function organicFields(): AttributionFields {
  return {
    network: 'organic',
    match_type: 'organic',
    campaign: null,
    campaign_id: null,
    campaign_name: null,
    ad_group_id: null,
    ad_group_name: null,
    ad_id: null,
    keyword: null,
    link_id: null,
    click_id: null,
    fbclid: null,
    gclid: null,
    ttclid: null,
    query_params: {},
    custom_data: {},
    clicked_at: null,
    country: null,
  };
}

/** Stored while Apple has not answered: the SDK is told `attribution: null` (undetermined). */
function pendingFields(): AttributionFields {
  return { ...organicFields(), network: 'pending', match_type: 'pending' };
}

/** Apple's dates look like `2026-11-23T08:01Z` (no seconds): parse leniently. */
export function parseLenientDate(s: string): Date | null {
  const fixed = /T\d{2}:\d{2}Z$/.test(s) ? s.replace(/Z$/, ':00Z') : s;
  const d = new Date(fixed);
  return Number.isNaN(d.getTime()) ? null : d;
}
