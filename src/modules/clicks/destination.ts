import type { Platform } from './user-agent.ts';
import { normalizeUrl } from '../../lib/url.ts';

/** Store and web URLs a link sends people to (the link's overrides already merged over the app's). */
export type Destinations = { ios: string | null; android: string | null; web: string | null };

/** Values the Play referrer carries beside the click id. */
export type ReferrerValues = {
  utmSource: string;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmTerm: string | null;
  utmContent: string | null;
};

/**
 * The Play `referrer` value before it goes into the store URL: `ar_click_id=…&utm_source=…`, each
 * value percent-encoded. Play hands this string back to the app (decoded once), and the SDK
 * protocol's referrer parser (docs/spec/sdk-protocol.md §4.4) splits it and decodes the values.
 */
export function playReferrer(clickId: string, v: ReferrerValues): string {
  const pairs: [string, string | null][] = [
    ['ar_click_id', clickId],
    ['utm_source', v.utmSource],
    ['utm_medium', v.utmMedium ?? 'paid'],
    ['utm_campaign', v.utmCampaign],
    ['utm_term', v.utmTerm],
    ['utm_content', v.utmContent],
  ];
  return pairs
    .filter(([, value]) => value)
    .map(([k, value]) => `${k}=${encodeURIComponent(value!)}`)
    .join('&');
}

/** `url` with one query parameter set (replacing an existing one), its value percent-encoded once. */
export function withParam(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.delete(name);
  const hash = u.hash;
  u.hash = '';
  const base = u.toString();
  return `${base}${u.search ? '&' : '?'}${name}=${encodeURIComponent(value)}${hash}`;
}

/** The Play Store URL carrying the click in `referrer` (URL-encoded: `ar_click_id%3Darc_…%26utm_source%3D…`). */
export const playUrl = (storeUrl: string, clickId: string, v: ReferrerValues) =>
  withParam(storeUrl, 'referrer', playReferrer(clickId, v));

export type Destination =
  | { kind: 'redirect'; url: string }
  | { kind: 'landing' } // no destination for this platform: the page with the store buttons
  | { kind: 'none' }; // the link has no destination at all

/**
 * Where a click goes (docs/spec/product.md §6.5): iOS → App Store; Android → Play with the referrer;
 * anything else → the web URL with `ar_click_id`; a platform without its destination → the web URL
 * when there is one, else the landing page with the store buttons that exist.
 */
export function chooseDestination(
  platform: Platform,
  d: Destinations,
  clickId: string,
  v: ReferrerValues,
): Destination {
  if (!d.ios && !d.android && !d.web) return { kind: 'none' };
  // Stored URLs are normalised (apps/schemas.ts HttpUrl); normalised again here for rows written before that.
  const ios = d.ios ? normalizeUrl(d.ios) : null;
  if (platform === 'ios' && ios) return { kind: 'redirect', url: ios };
  if (platform === 'android' && d.android)
    return { kind: 'redirect', url: playUrl(d.android, clickId, v) };
  if (d.web) return { kind: 'redirect', url: withParam(d.web, 'ar_click_id', clickId) };
  return { kind: 'landing' };
}
