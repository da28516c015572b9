import { isbot } from 'isbot';
import UAParser from 'ua-parser-js';
import { truncate } from '../../lib/text.ts';

/** What a click request says about the device: parsed once per distinct User-Agent. */
export type Platform = 'ios' | 'android' | 'web';
export type DeviceInfo = {
  platform: Platform;
  osVersion: string | null;
  deviceModel: string | null;
  botUserAgent: boolean;
};

const UA_CACHE_MAX = 5_000;
const UA_CACHE_MAX_LENGTH = 512;
// Two generations (like RepeatDetector): O(1) eviction of a whole generation, and a User-Agent seen
// in both keeps its entry.
let uaCache = new Map<string, DeviceInfo>();
let uaCacheOld = new Map<string, DeviceInfo>();

/** Platform, OS version, model and whether the User-Agent is a crawler or link unfurler. */
export function describeUserAgent(ua: string): DeviceInfo {
  const hit = uaCache.get(ua) ?? uaCacheOld.get(ua);
  if (hit) return hit;
  const r = new UAParser(ua).getResult();
  const os = r.os.name;
  const info: DeviceInfo = {
    platform: os === 'iOS' ? 'ios' : os === 'Android' ? 'android' : 'web',
    osVersion: r.os.version ? truncate(r.os.version, 32) : null,
    deviceModel: r.device.model ? truncate(r.device.model, 64) : null,
    botUserAgent: isbot(ua),
  };
  if (ua.length <= UA_CACHE_MAX_LENGTH) {
    // odd, huge User-Agents are parsed every time, not kept
    if (uaCache.size >= UA_CACHE_MAX / 2) {
      uaCacheOld = uaCache;
      uaCache = new Map();
    }
    uaCache.set(ua, info);
  }
  return info;
}

export type BotReason =
  | 'head_request'
  | 'prefetch'
  | 'user_agent'
  | 'missing_user_agent'
  | 'duplicate';

type Headers = Record<string, string | string[] | undefined>;
const header = (h: Headers, name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Why a request is not a person's click, or null. Previews and prefetches announce themselves
 * with `Purpose`/`Sec-Purpose: prefetch` (Chrome), `X-Purpose: preview` (Safari) or `X-Moz: prefetch`.
 */
export function botReason(
  method: string,
  headers: Headers,
  device: DeviceInfo | null,
): BotReason | null {
  if (method === 'HEAD') return 'head_request';
  const purpose =
    `${header(headers, 'sec-purpose') ?? ''} ${header(headers, 'purpose') ?? ''} ${header(headers, 'x-purpose') ?? ''} ${header(headers, 'x-moz') ?? ''}`.toLowerCase();
  if (purpose.includes('prefetch') || purpose.includes('preview') || purpose.includes('prerender'))
    return 'prefetch';
  if (!device) return 'missing_user_agent';
  if (device.botUserAgent) return 'user_agent';
  return null;
}

/** The first language tag of Accept-Language (`en-US`), or null. */
export function primaryLanguage(acceptLanguage: string | undefined): string | null {
  if (!acceptLanguage) return null;
  const m = /^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)/.exec(acceptLanguage);
  return m && m[1] !== '*' ? m[1].slice(0, 35) : null;
}
