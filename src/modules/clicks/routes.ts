import { htmlHeaders } from '../../http/security-headers.ts';
import type { ServerResponse } from 'node:http';
import type { ApiInstance } from '../../http/types.ts';
import type { LinkTarget } from '../links/cache.ts';
import { captureClick, type CaptureDeps, type NoClick } from './capture.ts';
import { chooseDestination, playUrl, withParam, type ReferrerValues } from './destination.ts';
import { landingPage, notFoundPage } from './landing-pages.ts';
import type { ClickRow } from './writer.ts';
import { normalizeUrl } from '../../lib/url.ts';

/**
 * The tracking host's hot path: `/api/c/{linkId}` (record the click, redirect) and `/g/{linkId}`
 * (record the page view, show the store buttons), GET and HEAD. Raw routes (http/raw-routes.ts):
 * no Fastify, no zod and no database round trip per request; the link comes from the in-process
 * cache and the click goes to the batched writer (capture.ts). This file is the HTTP side only.
 */
export function clickRoutes(app: ApiInstance, deps: Omit<CaptureDeps, 'log' | 'requestHost'>) {
  const d: CaptureDeps = {
    ...deps,
    log: app.log,
    requestHost: (req) => app.rawRoutes.requestHost(req),
  };

  app.rawRoutes.add({
    prefix: '/api/c/',
    handle: async (req, res, r) => {
      const c = await captureClick(d, req, r, 'redirect');
      if (typeof c === 'string') return sendNoClick(res, c);
      const dest = chooseDestination(
        c.click.platform as 'ios' | 'android' | 'web',
        c.link.destinations,
        c.storeClickId,
        referrerValues(c.click),
      );
      if (dest.kind === 'redirect') {
        res
          .writeHead(302, {
            location: dest.url,
            'cache-control': 'no-store',
            'content-length': '0',
          })
          .end();
        return;
      }
      sendHtml(res, 200, landing(c.link, c.storeClickId, c.click));
    },
  });

  app.rawRoutes.add({
    prefix: '/g/',
    handle: async (req, res, r) => {
      const c = await captureClick(d, req, r, 'landing');
      if (typeof c === 'string') return sendNoClick(res, c);
      sendHtml(res, 200, landing(c.link, c.storeClickId, c.click));
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
  utmSource: c.network,
  utmMedium: c.utm_medium,
  utmCampaign: c.campaign,
  utmTerm: c.utm_term,
  utmContent: c.utm_content,
});

function sendHtml(res: ServerResponse, status: number, html: string) {
  res
    .writeHead(status, {
      ...htmlHeaders(),
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(html),
    })
    .end(html);
}

/** The "link not found" page: 503 when the link could not be loaded, so that the visitor retries. */
function sendNoClick(res: ServerResponse, reason: NoClick) {
  sendHtml(res, reason === 'unavailable' ? 503 : 404, notFoundPage(reason));
}
