import type { ModuleRegistration } from '../../http/server.ts';
import type { Services } from '../../services.ts';
import { RepeatDetector } from '../clicks/capture.ts';
import { clickRoutes } from '../clicks/routes.ts';
import { ClickWriter } from '../clicks/writer.ts';
import { LinkCache } from './cache.ts';
import { linkRoutes } from './routes.ts';

// One link cache per server (the API drops entries it changes; the redirect path reads them).
const caches = new WeakMap<Services, LinkCache>();
const cacheFor = (s: Services) => {
  let c = caches.get(s);
  if (!c) caches.set(s, (c = new LinkCache(s.sql, s.log)));
  return c;
};

/**
 * Tracking links: the Links API under /api/v1, and the click capture at the root
 * (`/api/c/{linkId}`, `/g/{linkId}`) with its link cache and batched click writer.
 */
export const linksModule: ModuleRegistration = {
  api: async (app, services) => linkRoutes(app, services, cacheFor(services)),
  root: async (app, services) => {
    const cache = cacheFor(services);
    await cache.start();
    const writer = new ClickWriter(services.databaseUrl, services.log);
    // Fastify stops the HTTP server before onClose hooks run: no click arrives after this drain.
    app.addHook('onClose', async () => {
      await writer.close();
      await cache.stop();
    });
    const apiHost = new URL(services.config.publicUrl).host;
    const sharedHost = apiHost === new URL(services.config.trackingUrl).host;
    clickRoutes(app, { cache, writer, repeats: new RepeatDetector(), apiHost: sharedHost ? null : apiHost });
  },
};
