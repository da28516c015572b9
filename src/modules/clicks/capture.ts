import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parse as parseQueryString } from 'fast-querystring';
import type { Logger } from 'pino';
import type { RawRequest } from '../../http/raw-routes.ts';
import { countryOf } from '../../lib/geo.ts';
import { normalizeIp } from '../../lib/ip.ts';
import type { LinkCache, LinkTarget } from '../links/cache.ts';
import { LINK_ID_PATTERN } from '../links/vocabulary.ts';
import {
  campaignLabel,
  clean,
  detectNetwork,
  parseClickParams,
  type ClickQuery,
} from './params.ts';
import {
  botReason,
  describeUserAgent,
  primaryLanguage,
  type BotReason,
  type DeviceInfo,
} from './user-agent.ts';
import type { ClickRow, ClickWriter } from './writer.ts';
import { newClickId } from './click-id.ts';

export { newClickId };

export type CaptureDeps = {
  cache: LinkCache;
  writer: ClickWriter;
  repeats: RepeatDetector;
  log: Pick<Logger, 'error'>;
  /** The API host (PUBLIC_URL's `host`) when it is not also the tracking host, else null. */
  apiHost: string | null;
  /** The host the client asked for (http/raw-routes.ts `requestHost`). */
  requestHost: (req: IncomingMessage) => string;
};

/** Why a request to a link recorded nothing; the caller answers with the matching page. */
export type NoClick = 'unknown' | 'unconfigured' | 'unavailable';

export type CapturedClick = {
  link: LinkTarget;
  click: ClickRow;
  /** The id the stores get: a rapid repeat carries its original's id. */
  storeClickId: string;
};

/**
 * A request to a link, recorded as a click: find the link, check that it leads somewhere, read
 * the request into a row (with its `BotReason` when it is not a person's click), flag a rapid
 * repeat, hand the row to the writer. Plain calls, no step objects: this is the redirect's hot path.
 */
export async function captureClick(
  d: CaptureDeps,
  req: IncomingMessage,
  r: RawRequest,
  source: ClickRow['source'],
): Promise<CapturedClick | NoClick> {
  let link: LinkTarget | null = null;
  if (LINK_ID_PATTERN.test(r.segment)) {
    try {
      const cached = d.cache.get(r.segment);
      link = cached instanceof Promise ? await cached : cached;
    } catch (err) {
      d.log.error({ err, linkId: r.segment, reqId: r.id }, 'link lookup failed');
      return 'unavailable';
    }
  }
  if (!link) return 'unknown';
  const recordAs = sourceOf(d, req, link, source);
  if (!recordAs) return 'unconfigured';
  const click = readClick(req, r, link, recordAs);
  const storeClickId = flagRepeat(d.repeats, click);
  const wait = d.writer.add(click);
  if (wait) await wait; // backpressure: the writer is behind; hold this response until it catches up
  return { link, click, storeClickId };
}

/** How the visit is recorded, or null when the link has nowhere to send anyone and the visit is not recorded. */
function sourceOf(
  d: CaptureDeps,
  req: IncomingMessage,
  link: LinkTarget,
  source: ClickRow['source'],
): ClickRow['source'] | null {
  const dest = link.destinations;
  if (dest.ios || dest.android || dest.web) return source;
  // Nothing to send anyone to. The tracking host answers 404, as the reference does; on the
  // API host the reference serves a "capture page" instead (docs/spec/product.md §6.2): the visit is
  // recorded and the landing page says the app is not in a store yet.
  if (d.apiHost === null || d.requestHost(req) !== d.apiHost) return null;
  return 'capture';
}

/** The clicks row of this request: query, device, language, country and why it is a bot (if it is). */
function readClick(
  req: IncomingMessage,
  r: RawRequest,
  link: LinkTarget,
  source: ClickRow['source'],
): ClickRow {
  const h = req.headers;
  const userAgent = h['user-agent'] || null;
  const device = userAgent ? describeUserAgent(userAgent) : null;
  const ip = normalizeIp(r.ip);
  // fast-querystring, as Fastify parses queries: repeats as arrays, + as space.
  return buildClick(link, parseClickParams(parseQueryString(r.query)), {
    at: new Date(),
    ip,
    userAgent,
    referer: h.referer ?? null,
    language: primaryLanguage(h['accept-language']),
    country: ip ? countryOf(ip) : null,
    device,
    botReason: botReason(req.method!, h, device),
    source,
  });
}

/** Flags a rapid repeat of a person's click as `duplicate` of its original; returns the id the stores get. */
function flagRepeat(repeats: RepeatDetector, click: ClickRow): string {
  if (click.is_bot) return click.id;
  const original = repeats.check(click, click.clicked_at.getTime());
  if (!original) return click.id;
  Object.assign(click, {
    is_bot: true,
    bot_reason: 'duplicate' satisfies BotReason,
    duplicate_of: original,
  });
  return original;
}

/** What the HTTP layer read off the request. */
export type ClickRequest = {
  at: Date;
  ip: string | null;
  userAgent: string | null;
  referer: string | null;
  language: string | null;
  country: string | null;
  device: DeviceInfo | null;
  botReason: BotReason | null;
  source: ClickRow['source'];
};

/** The clicks row for one request to a link. */
export function buildClick(
  link: LinkTarget,
  q: ClickQuery,
  r: ClickRequest,
  id = newClickId(r.at.getTime()),
): ClickRow {
  return {
    id,
    app_id: link.appId,
    link_id: link.id,
    environment: q.environment,
    clicked_at: r.at,
    network: detectNetwork(q, link.network),
    campaign: campaignLabel(link.campaignName, q),
    campaign_id: q.campaignId,
    campaign_name: q.campaignName,
    ad_group_id: q.adGroupId,
    ad_group_name: q.adGroupName,
    ad_id: q.adId,
    ad_name: q.adName,
    keyword: q.keyword,
    fbclid: q.fbclid,
    gclid: q.gclid,
    gbraid: q.gbraid,
    wbraid: q.wbraid,
    ttclid: q.ttclid,
    utm_source: q.utmSource,
    utm_medium: q.utmMedium,
    utm_campaign: q.utmCampaign,
    utm_term: q.utmTerm,
    utm_content: q.utmContent,
    idfa: q.idfa,
    gaid: q.gaid,
    query_params: q.queryParams,
    ip: r.ip,
    user_agent: r.userAgent ? clean(r.userAgent, 1024) : null,
    platform: r.device?.platform ?? 'web',
    os_version: r.device?.osVersion ?? null,
    device_model: r.device?.deviceModel ?? null,
    language: r.language,
    country: r.country,
    referer: r.referer ? clean(r.referer, 2048) : null,
    source: r.source,
    is_bot: r.botReason !== null,
    bot_reason: r.botReason,
    duplicate_of: null,
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
 * A generation is a hash table in typed arrays keyed by a seeded 64-bit hash of the key (a Map of
 * string keys and entry objects cost the redirect a few µs a click in garbage collection).
 */
export class RepeatDetector {
  private current: RepeatTable;
  private previous: RepeatTable;
  private currentSince = -Infinity;
  // A per-process seed: nobody outside can aim User-Agents at one slot of the table.
  private seed = randomBytes(8);

  constructor(
    private windowMs = 30_000,
    private maxEntries = 100_000,
  ) {
    this.current = new RepeatTable(maxEntries / 2);
    this.previous = new RepeatTable(maxEntries / 2);
  }

  get size() {
    return this.current.size + this.previous.size;
  }

  /** The id of the click this one repeats, or null (and then it is remembered as an original). */
  check(
    c: Pick<ClickRow, 'id' | 'link_id' | 'environment' | 'ip' | 'user_agent'>,
    now: number,
  ): string | null {
    if (now - this.currentSince >= this.windowMs || this.current.size >= this.maxEntries / 2) {
      const old = this.previous;
      this.previous = this.current;
      this.current = old.clear();
      if (now - this.currentSince >= 2 * this.windowMs) this.previous.clear();
      this.currentSince = now;
    }
    // The User-Agent's first 256 characters: enough to tell browsers apart.
    let h1 = this.seed.readUInt32LE(0);
    let h2 = this.seed.readUInt32LE(4);
    for (const part of [c.link_id, c.environment, c.ip ?? '', c.user_agent ?? '']) {
      const end = Math.min(part.length, 256);
      for (let i = 0; i < end; i++) {
        const ch = part.charCodeAt(i);
        h1 = Math.imul(h1 ^ ch, 0x01000193);
        h2 = Math.imul(h2 ^ ch, 0x5bd1e995);
      }
      h1 = Math.imul(h1 ^ 0x0a, 0x01000193); // a separator: ("ab", "c") ≠ ("a", "bc")
      h2 = Math.imul(h2 ^ 0x0a, 0x5bd1e995);
    }
    h1 = fmix32(h1);
    h2 = fmix32(h2);
    for (const t of [this.current, this.previous]) {
      const i = t.find(h1, h2);
      if (i >= 0 && now - t.at[i] < this.windowMs) return t.id(i);
    }
    this.current.set(h1, h2, now, c.id);
    return null;
  }
}

/** MurmurHash3's finaliser: spreads every input bit over the output (slots come from the low bits). */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** One generation: open addressing with linear probing over (h1, h2), at most half full. */
class RepeatTable {
  readonly h1: Uint32Array;
  readonly h2: Uint32Array;
  readonly at: Float64Array;
  private ids: (string | undefined)[];
  size = 0;
  private mask: number;

  constructor(maxEntries: number) {
    let slots = 16;
    while (slots < maxEntries * 2) slots *= 2;
    this.mask = slots - 1;
    this.h1 = new Uint32Array(slots);
    this.h2 = new Uint32Array(slots);
    this.at = new Float64Array(slots);
    this.ids = new Array(slots).fill(undefined);
  }

  /** The slot holding (h1, h2), or -1. */
  find(h1: number, h2: number): number {
    for (let i = h1 & this.mask; this.ids[i] !== undefined; i = (i + 1) & this.mask) {
      if (this.h1[i] === h1 && this.h2[i] === h2) return i;
    }
    return -1;
  }

  id(slot: number): string {
    return this.ids[slot]!;
  }

  set(h1: number, h2: number, at: number, id: string) {
    let i = h1 & this.mask;
    while (this.ids[i] !== undefined && !(this.h1[i] === h1 && this.h2[i] === h2))
      i = (i + 1) & this.mask;
    if (this.ids[i] === undefined) this.size++;
    this.h1[i] = h1;
    this.h2[i] = h2;
    this.at[i] = at;
    this.ids[i] = id;
  }

  clear(): this {
    if (this.size) {
      this.ids.fill(undefined);
      this.size = 0;
    }
    return this;
  }
}
