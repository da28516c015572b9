/**
 * Google Play install-referrer parsing (docs/spec/sdk-protocol.md §4.4). Plain functions, no I/O.
 */
import { NUL } from '../../lib/text.ts';

export type ParsedReferrer = {
  /** Every piece of the referrer, decoded, first occurrence of a key wins. */
  params: Record<string, string>;
  arClickId: string | null;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmTerm: string | null;
  utmContent: string | null;
  gclid: string | null;
  fbclid: string | null;
  ttclid: string | null;
  campaignId: string | null;
  campaignName: string | null;
  adGroupId: string | null;
  adId: string | null;
  /** Play's own "no paid click" markers (google-play/organic, "(not set)"). */
  organic: boolean;
  /** Ad data other than a platform click id: gclid/fbclid/ttclid or a non-organic utm_source. */
  hasAdData: boolean;
};

const NOT_SET = /^\(not( |%20)set\)$/i;

/** A piece decoded; NUL characters (`%00`) are dropped like everywhere in SDK input (PostgreSQL refuses them). */
function decode(s: string, plusIsSpace: boolean): string {
  let d: string;
  try {
    d = decodeURIComponent(plusIsSpace ? s.replace(/\+/g, ' ') : s);
  } catch {
    d = s; // a malformed escape: keep that piece undecoded
  }
  return d.includes(NUL) ? d.replaceAll(NUL, '') : d;
}

export function parseInstallReferrer(raw: string | null | undefined): ParsedReferrer | null {
  if (!raw) return null;
  let text = raw;
  // Double-encoded referrers arrive with no '=' but with '%3D': decode once.
  if (!text.includes('=') && /%3d/i.test(text)) text = decode(text, false);

  const params: Record<string, string> = {};
  for (const piece of text.split('&')) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const key = decode(eq < 0 ? piece : piece.slice(0, eq), true);
    const value = eq < 0 ? '' : decode(piece.slice(eq + 1), true);
    if (!key || key in params) continue;
    params[key] = value;
  }

  const get = (k: string) => {
    const v = params[k];
    return v === undefined || v === '' || NOT_SET.test(v) ? null : v;
  };
  const utmSource = get('utm_source');
  const utmMedium = get('utm_medium');
  const notSetMarker = Object.values(params).some((v) => NOT_SET.test(v));
  const playOrganic =
    utmSource?.toLowerCase() === 'google-play' && utmMedium?.toLowerCase() === 'organic';
  const parsed: ParsedReferrer = {
    params,
    arClickId: get('ar_click_id'),
    utmSource,
    utmMedium,
    utmCampaign: get('utm_campaign'),
    utmTerm: get('utm_term'),
    utmContent: get('utm_content'),
    gclid: get('gclid'),
    fbclid: get('fbclid'),
    ttclid: get('ttclid'),
    campaignId: get('campaign_id'),
    campaignName: get('campaign_name'),
    adGroupId: get('adset_id') ?? get('adgroup_id'),
    adId: get('ad_id'),
    organic:
      playOrganic ||
      (notSetMarker && !get('gclid') && !get('fbclid') && !get('ttclid') && !get('ar_click_id')),
    hasAdData: false,
  };
  parsed.hasAdData =
    !parsed.organic &&
    !!(parsed.gclid || parsed.fbclid || parsed.ttclid || (utmSource && !playOrganic));
  return parsed;
}

/** utm_source aliases → network (docs/spec/product.md §6.4, decided in docs/sdk-ingestion.md). */
const SOURCE_ALIASES: Record<string, string> = {
  facebook: 'meta',
  fb: 'meta',
  ig: 'meta',
  instagram: 'meta',
  meta: 'meta',
  google: 'google',
  adwords: 'google',
  googleads: 'google',
  google_ads: 'google',
  youtube: 'google',
  tiktok: 'tiktok',
  tt: 'tiktok',
  apple: 'apple_search_ads',
  apple_search_ads: 'apple_search_ads',
  asa: 'apple_search_ads',
};

export function networkFromSource(source: string | null): string | null {
  if (!source) return null;
  const s = source.trim().toLowerCase();
  return SOURCE_ALIASES[s] ?? s;
}

/** The network a referrer points at: click ids first, then utm_source. */
export function referrerNetwork(r: ParsedReferrer): string {
  if (r.gclid) return 'google';
  if (r.fbclid) return 'meta';
  if (r.ttclid) return 'tiktok';
  return networkFromSource(r.utmSource) ?? 'other';
}
