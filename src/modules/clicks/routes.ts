import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQueryString } from 'fast-querystring';
import type { ApiInstance } from '../../http/server.ts';
import type { RawRequest } from '../../http/raw-routes.ts';
import type { LinkCache, LinkTarget } from '../links/cache.ts';
import { LINK_ID_PATTERN } from '../links/schemas.ts';
import { buildClick, type RepeatDetector } from './capture.ts';
import { chooseDestination, playUrl, withParam, type ReferrerValues } from './destination.ts';
import { normalizeIp } from '../../lib/ip.ts';
import { normalizeUrl } from '../../lib/url.ts';
import { botReason, countryOf, describeUserAgent, primaryLanguage } from './device.ts';
import { landingPage, notFoundPage } from './pages.ts';
import { parseClickParams } from './params.ts';
import type { ClickRow, ClickWriter } from './writer.ts';

export type ClickDeps = {
  cache: LinkCache; writer: ClickWriter; repeats: RepeatDetector;
  /** The API host (PUBLIC_URL's `host`) when it is not also the tracking host, else null. */
  apiHost: string | null;
};

/**
 * The tracking host's hot path: `/api/c/{linkId}` (record the click, redirect) and `/g/{linkId}`
 * (record the page view, show the store buttons), GET and HEAD. Raw routes (http/raw-routes.ts):
 * no Fastify, no zod and no database round trip per request; the link comes from the in-process
 * cache and the click goes to the batched writer.
 */
export function clickRoutes(app: ApiInstance, { cache, writer, repeats, apiHost }: ClickDeps) {
  /** Reads the request, records the click, returns the link and the click (or null when answered already). */
  async function capture(req: IncomingMessage, res: ServerResponse, r: RawRequest, source: ClickRow['source']) {
    let link: LinkTarget | null = null;
    if (LINK_ID_PATTERN.test(r.segment)) {
      try {
        const cached = cache.get(r.segment);
        link = cached instanceof Promise ? await cached : cached;
      } catch (err) {
        app.log.error({ err, linkId: r.segment, reqId: r.id }, 'link lookup failed');
        sendHtml(res, 503, notFoundPage('unavailable'));
        return null;
      }
    }
    if (!link) {
      sendHtml(res, 404, notFoundPage('unknown'));
      return null;
    }
    const d = link.destinations;
    if (!d.ios && !d.android && !d.web) {
      // Nothing to send anyone to. The tracking host answers 404, as the reference does; on the
      // API host the reference serves a "capture page" instead (product.md §6.2): the visit is
      // recorded and the landing page says the app is not in a store yet.
      if (apiHost === null || app.rawRoutes.requestHost(req) !== apiHost) {
        sendHtml(res, 404, notFoundPage('unconfigured'));
        return null;
      }
      source = 'capture';
    }
    const h = req.headers;
    const userAgent = h['user-agent'] || null;
    const device = userAgent ? describeUserAgent(userAgent) : null;
    const ip = normalizeIp(r.ip);
    // fast-querystring, as Fastify parses queries: repeats as arrays, + as space.
    const click = buildClick(link, parseClickParams(parseQueryString(r.query)), {
      at: new Date(), ip, userAgent, referer: h.referer ?? null,
      language: primaryLanguage(h['accept-language']), country: ip ? countryOf(ip) : null,
      device, botReason: botReason(req.method!, h, device), source,
    });
    // The id the stores get: a rapid repeat carries its original's id.
    let storeClickId = click.id;
    if (!click.is_bot) {
      const original = repeats.check(click, click.clicked_at.getTime());
      if (original) {
        Object.assign(click, { is_bot: true, bot_reason: 'duplicate', duplicate_of: original });
        storeClickId = original;
      }
    }
    const wait = writer.add(click);
    if (wait) await wait; // backpressure: the writer is behind; hold this response until it catches up
    return { link, click, storeClickId };
  }

  app.rawRoutes.add({
    prefix: '/api/c/',
    handle: async (req, res, r) => {
      const c = await capture(req, res, r, 'redirect');
      if (!c) return;
      const dest = chooseDestination(c.click.platform as 'ios' | 'android' | 'web', c.link.destinations, c.storeClickId, referrerValues(c.click));
      if (dest.kind === 'redirect') {
        res.writeHead(302, { location: dest.url, 'cache-control': 'no-store', 'content-length': '0' }).end();
        return;
      }
      sendHtml(res, 200, landing(c.link, c.storeClickId, c.click));
    },
  });

  app.rawRoutes.add({
    prefix: '/g/',
    handle: async (req, res, r) => {
      const c = await capture(req, res, r, 'landing');
      if (c) sendHtml(res, 200, landing(c.link, c.storeClickId, c.click));
    },
  });
}

function landing(link: LinkTarget, clickId: string, click: ClickRow): string {
  const d = link.destinations;
  return landingPage({
    appName: link.appName,
    appStoreUrl: d.ios ? normalizeUrl(d.ios) : null,
    playUrl: d.android ? playUrl(d.android, clickId, referrerValues(click)) : null,
    webUrl: d.web ? withParam(d.web, 'ar_click_id', clickId) : null,
  });
}

/** Play referrer values: the detected network as utm_source, the campaign label as utm_campaign. */
const referrerValues = (c: ClickRow): ReferrerValues => ({
  utmSource: c.network, utmMedium: c.utm_medium, utmCampaign: c.campaign, utmTerm: c.utm_term, utmContent: c.utm_content,
});

function sendHtml(res: ServerResponse, status: number, html: string) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(html) }).end(html);
}
