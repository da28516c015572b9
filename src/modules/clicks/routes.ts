import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiInstance } from '../../http/server.ts';
import type { LinkCache, LinkTarget } from '../links/cache.ts';
import { LINK_ID_PATTERN } from '../links/schemas.ts';
import { buildClick, type RepeatDetector } from './capture.ts';
import { chooseDestination, playUrl, withParam, type ReferrerValues } from './destination.ts';
import { normalizeIp } from '../../lib/ip.ts';
import { botReason, countryOf, describeUserAgent, primaryLanguage } from './device.ts';
import { landingPage, notFoundPage } from './pages.ts';
import { parseClickParams } from './params.ts';
import type { ClickRow, ClickWriter } from './writer.ts';

export type ClickDeps = { cache: LinkCache; writer: ClickWriter; repeats: RepeatDetector };

/**
 * The tracking host's hot path: `/api/c/{linkId}` (record the click, redirect) and `/g/{linkId}`
 * (record the page view, show the store buttons). No zod and no database round trip per request:
 * the link comes from the in-process cache and the click goes to the batched writer.
 */
export async function clickRoutes(app: ApiInstance, { cache, writer, repeats }: ClickDeps) {
  /** Reads the request, records the click, returns the link and the click (or null when answered already). */
  async function capture(req: FastifyRequest, reply: FastifyReply, source: ClickRow['source']) {
    const linkId = (req.params as { linkId: string }).linkId;
    let link: LinkTarget | null = null;
    if (LINK_ID_PATTERN.test(linkId)) {
      try {
        link = await cache.get(linkId);
      } catch (err) {
        req.log.error({ err, linkId }, 'link lookup failed');
        sendHtml(reply, 503, notFoundPage('unavailable'));
        return null;
      }
    }
    if (!link) {
      sendHtml(reply, 404, notFoundPage('unknown'));
      return null;
    }
    const d = link.destinations;
    if (!d.ios && !d.android && !d.web) {
      // Nothing to send anyone to: not a click anyone can install from.
      sendHtml(reply, 404, notFoundPage('unconfigured'));
      return null;
    }
    const h = req.headers;
    const userAgent = h['user-agent'] || null;
    const device = userAgent ? describeUserAgent(userAgent) : null;
    const ip = normalizeIp(req.ip);
    // Fastify has parsed the query string already (fast-querystring: repeats as arrays, + as space).
    const click = buildClick(link, parseClickParams(req.query as Record<string, string | string[]>), {
      at: new Date(), ip, userAgent, referer: h.referer ?? null,
      language: primaryLanguage(h['accept-language']), country: ip ? countryOf(ip) : null,
      device, botReason: botReason(req.method, h, device), source,
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

  async function redirect(req: FastifyRequest, reply: FastifyReply) {
    const c = await capture(req, reply, 'redirect');
    if (!c) return reply;
    const dest = chooseDestination(c.click.platform as 'ios' | 'android' | 'web', c.link.destinations, c.storeClickId, referrerValues(c.click));
    if (dest.kind === 'redirect') {
      return reply.code(302).header('location', dest.url).header('cache-control', 'no-store').send();
    }
    return sendHtml(reply, 200, landing(c.link, c.storeClickId, c.click));
  }

  async function landingView(req: FastifyRequest, reply: FastifyReply) {
    const c = await capture(req, reply, 'landing');
    if (!c) return reply;
    return sendHtml(reply, 200, landing(c.link, c.storeClickId, c.click));
  }

  // GET also answers HEAD (Fastify's exposeHeadRoutes); a HEAD is stored as a bot click.
  app.get('/api/c/:linkId', { schema: { hide: true } }, redirect);
  app.get('/g/:linkId', { schema: { hide: true } }, landingView);
}

function landing(link: LinkTarget, clickId: string, click: ClickRow): string {
  const d = link.destinations;
  return landingPage({
    appName: link.appName,
    appStoreUrl: d.ios,
    playUrl: d.android ? playUrl(d.android, clickId, referrerValues(click)) : null,
    webUrl: d.web ? withParam(d.web, 'ar_click_id', clickId) : null,
  });
}

/** Play referrer values: the detected network as utm_source, the campaign label as utm_campaign. */
const referrerValues = (c: ClickRow): ReferrerValues => ({
  utmSource: c.network, utmMedium: c.utm_medium, utmCampaign: c.campaign, utmTerm: c.utm_term, utmContent: c.utm_content,
});

function sendHtml(reply: FastifyReply, status: number, html: string) {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
}
