/**
 * The query string of a click URL, read into the fields a click stores. Plain functions over
 * plain data: no request, no database.
 */
import { truncate } from '../../lib/text.ts';

import type { Network } from '../links/vocabulary.ts';

export type Environment = 'live' | 'sandbox';

/** What a click URL's query string carries, recognised fields split out. */
export type ClickQuery = {
  environment: Environment;
  fbclid: string | null;
  gclid: string | null;
  gbraid: string | null;
  wbraid: string | null;
  ttclid: string | null;
  campaignId: string | null;
  campaignName: string | null;
  adGroupId: string | null;
  adGroupName: string | null;
  adId: string | null;
  adName: string | null;
  keyword: string | null;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmTerm: string | null;
  utmContent: string | null;
  idfa: string | null;
  gaid: string | null;
  /** Every parameter (recognised and extra), first value wins; `ar_env` removed. */
  queryParams: Record<string, string>;
};

/** Parameter that makes a click sandbox (`ar_env=sandbox`); never passed through. */
export const ENV_PARAM = 'ar_env';

/** Bounds so that one hostile URL cannot make a huge row. */
export const MAX_PARAMS = 100;
export const MAX_KEY_LENGTH = 128;
export const MAX_VALUE_LENGTH = 2048;

/**
 * PostgreSQL text and jsonb reject NUL; strip it so one URL cannot poison a batch. Cut on code
 * points: half an emoji (a lone surrogate) cannot be written either.
 */
export const clean = (s: string, max: number) =>
  truncate(s.includes('\u0000') ? s.replaceAll('\u0000', '') : s, max);

/** utm_source values (lower-cased, trimmed) that name a known network. */
export const UTM_SOURCE_ALIASES: Readonly<Record<string, Network>> = {
  facebook: 'meta',
  fb: 'meta',
  ig: 'meta',
  instagram: 'meta',
  meta: 'meta',
  messenger: 'meta',
  facebook_ads: 'meta',
  meta_ads: 'meta',
  audience_network: 'meta',
  google: 'google',
  adwords: 'google',
  google_ads: 'google',
  googleads: 'google',
  youtube: 'google',
  gdn: 'google',
  tiktok: 'tiktok',
  tt: 'tiktok',
  tiktok_ads: 'tiktok',
  pangle: 'tiktok',
  apple: 'apple_search_ads',
  asa: 'apple_search_ads',
  apple_search_ads: 'apple_search_ads',
  applesearchads: 'apple_search_ads',
  search_ads: 'apple_search_ads',
};

/** Click-id parameters in detection order: the first present decides the network. */
export const CLICK_ID_NETWORKS: readonly [
  keyof ClickQuery & ('fbclid' | 'gclid' | 'gbraid' | 'wbraid' | 'ttclid'),
  Network,
][] = [
  ['fbclid', 'meta'],
  ['gclid', 'google'],
  ['gbraid', 'google'],
  ['wbraid', 'google'],
  ['ttclid', 'tiktok'],
];

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * A device id as networks pass it: a UUID that is not the all-zero "limited ad tracking" value.
 * Unexpanded macros (`{idfa}`, `__IDFA__`) are dropped. IDFA in Apple's upper case, GAID in lower case.
 */
export function deviceId(raw: string | null, kind: 'idfa' | 'gaid'): string | null {
  if (!raw || !UUID.test(raw) || raw === ZERO_UUID) return null;
  return kind === 'idfa' ? raw.toUpperCase() : raw.toLowerCase();
}

/** Parses a raw query string (without `?`): `+` is a space; repeated keys: first value wins. */
export function parseClickQuery(rawQuery: string): ClickQuery {
  const parsed: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of new URLSearchParams(rawQuery)) {
    const prev = parsed[k];
    parsed[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return parseClickParams(parsed);
}

/**
 * Reads an already parsed query (the HTTP server's `req.query`: repeated keys as arrays, in
 * order). Every parameter is kept for the app, first value winning; `ar_env` is removed.
 */
export function parseClickParams(query: Record<string, string | string[] | undefined>): ClickQuery {
  // No prototype: a parameter named __proto__ or constructor is just a parameter.
  const params: Record<string, string> = Object.create(null);
  let environment: Environment = 'live';
  let count = 0;
  for (const k in query) {
    const raw = query[k];
    const v = Array.isArray(raw) ? raw[0] : raw;
    if (v === undefined) continue;
    if (k === ENV_PARAM) {
      if (v === 'sandbox') environment = 'sandbox';
      continue;
    }
    const key = clean(k, MAX_KEY_LENGTH);
    if (!key || Object.hasOwn(params, key)) continue;
    if (count++ >= MAX_PARAMS) break;
    params[key] = clean(v, MAX_VALUE_LENGTH);
  }
  const get = (k: string) => {
    const v = Object.hasOwn(params, k) ? params[k].trim() : '';
    return v === '' ? null : v;
  };
  return {
    environment,
    fbclid: get('fbclid'),
    gclid: get('gclid'),
    gbraid: get('gbraid'),
    wbraid: get('wbraid'),
    ttclid: get('ttclid'),
    campaignId: get('campaign_id'),
    campaignName: get('campaign_name'),
    adGroupId: get('adset_id') ?? get('adgroup_id'),
    adGroupName: get('adset_name') ?? get('adgroup_name'),
    adId: get('ad_id'),
    adName: get('ad_name'),
    keyword: get('keyword') ?? get('utm_term'),
    utmSource: get('utm_source'),
    utmMedium: get('utm_medium'),
    utmCampaign: get('utm_campaign'),
    utmTerm: get('utm_term'),
    utmContent: get('utm_content'),
    idfa: deviceId(get('idfa'), 'idfa'),
    gaid: deviceId(get('gaid'), 'gaid'),
    queryParams: params,
  };
}

/** Network detection (docs/spec/product.md §6.4): a click id first, then utm_source, then the link's default. */
export function detectNetwork(
  q: Pick<ClickQuery, 'fbclid' | 'gclid' | 'gbraid' | 'wbraid' | 'ttclid' | 'utmSource'>,
  linkDefault: Network,
): Network {
  for (const [param, network] of CLICK_ID_NETWORKS) if (q[param]) return network;
  if (q.utmSource) {
    const source = q.utmSource.trim().toLowerCase();
    if (Object.hasOwn(UTM_SOURCE_ALIASES, source)) return UTM_SOURCE_ALIASES[source];
  }
  return linkDefault;
}

/** The reporting label: the link's campaign name, else utm_campaign, else campaign_name. */
export const campaignLabel = (
  linkCampaign: string | null,
  q: Pick<ClickQuery, 'utmCampaign' | 'campaignName'>,
) => linkCampaign ?? q.utmCampaign ?? q.campaignName;
