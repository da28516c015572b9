import { randomBase62 } from '../../lib/crypto.ts';
import type { LinkTarget } from '../links/cache.ts';
import { campaignLabel, clean, detectNetwork, type ClickQuery } from './params.ts';
import type { BotReason, DeviceInfo } from './device.ts';
import type { ClickRow } from './writer.ts';

// Byte order ("C" collation) of the digits: 0-9 < A-Z < a-z.
const SORTED_BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
let timePrefixMs = -1;
let timePrefix = '';

/**
 * The ar_click_id: `arc_` + 20 base62 characters, URL-safe and unguessable: 7 for the time in
 * milliseconds (in order until the year 2081) and 13 random ones (~77 bits). Time first, so that
 * the clicks primary key grows at its right edge (0005_cheaper_click_writes.sql).
 */
export function newClickId(now = Date.now()): string {
  if (now !== timePrefixMs) {
    let t = now;
    let s = '';
    for (let i = 0; i < 7; i++) { s = SORTED_BASE62[t % 62] + s; t = Math.floor(t / 62); }
    timePrefixMs = now;
    timePrefix = s;
  }
  return `arc_${timePrefix}${randomBase62(13)}`;
}

/** What the HTTP layer read off the request. */
export type ClickRequest = {
  at: Date; ip: string | null; userAgent: string | null; referer: string | null; language: string | null; country: string | null;
  device: DeviceInfo | null; botReason: BotReason | null; source: 'redirect' | 'landing';
};

/** The clicks row for one request to a link. */
export function buildClick(link: LinkTarget, q: ClickQuery, r: ClickRequest, id = newClickId(r.at.getTime())): ClickRow {
  return {
    id, app_id: link.appId, link_id: link.id, environment: q.environment, clicked_at: r.at,
    network: detectNetwork(q, link.network),
    campaign: campaignLabel(link.campaignName, q),
    campaign_id: q.campaignId, campaign_name: q.campaignName,
    ad_group_id: q.adGroupId, ad_group_name: q.adGroupName, ad_id: q.adId, ad_name: q.adName, keyword: q.keyword,
    fbclid: q.fbclid, gclid: q.gclid, gbraid: q.gbraid, wbraid: q.wbraid, ttclid: q.ttclid,
    utm_source: q.utmSource, utm_medium: q.utmMedium, utm_campaign: q.utmCampaign, utm_term: q.utmTerm, utm_content: q.utmContent,
    idfa: q.idfa, gaid: q.gaid, query_params: q.queryParams,
    ip: r.ip, user_agent: r.userAgent ? clean(r.userAgent, 1024) : null,
    platform: r.device?.platform ?? 'web', os_version: r.device?.osVersion ?? null, device_model: r.device?.deviceModel ?? null,
    language: r.language, country: r.country, referer: r.referer ? clean(r.referer, 2048) : null,
    source: r.source, is_bot: r.botReason !== null, bot_reason: r.botReason, duplicate_of: null,
  };
}

/**
 * Rapid repeats of a click (same link, environment, IP and User-Agent within `windowMs`: a double
 * tap, an in-app browser reloading) are still stored, but as `duplicate_of` the first click and
 * flagged (`bot_reason = 'duplicate'`), so they are neither counted nor attributed twice; the
 * repeat's redirect carries the first click's id. In-process only: with several server processes
 * a repeat that lands on another process counts as a new click.
 *
 * Two generations of one window each: every click younger than the window is in one of them, and
 * a whole generation is dropped at once (no per-entry pruning on the hot path). Past `maxEntries`
 * the older generation is dropped early, so under extreme load a repeat may count as a new click.
 */
export class RepeatDetector {
  private current = new Map<string, { clickId: string; at: number }>();
  private previous = new Map<string, { clickId: string; at: number }>();
  private currentSince = -Infinity;
  constructor(private windowMs = 30_000, private maxEntries = 100_000) {} // ≤ ~40 MB of keys

  get size() { return this.current.size + this.previous.size; }

  /** The id of the click this one repeats, or null (and then it is remembered as an original). */
  check(c: Pick<ClickRow, 'id' | 'link_id' | 'environment' | 'ip' | 'user_agent'>, now: number): string | null {
    if (now - this.currentSince >= this.windowMs || this.current.size >= this.maxEntries / 2) {
      this.previous = now - this.currentSince >= 2 * this.windowMs ? new Map() : this.current;
      this.current = new Map();
      this.currentSince = now;
    }
    // The User-Agent's first 256 characters: enough to tell browsers apart, and a bounded key.
    const key = `${c.link_id}\n${c.environment}\n${c.ip ?? ''}\n${c.user_agent?.slice(0, 256) ?? ''}`;
    const prev = this.current.get(key) ?? this.previous.get(key);
    if (prev && now - prev.at < this.windowMs) return prev.clickId;
    this.current.set(key, { clickId: c.id, at: now });
    return null;
  }
}
