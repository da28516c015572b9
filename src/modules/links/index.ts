import type { ModuleRegistration } from '../../http/types.ts';
import type { Services } from '../../services.ts';
import { RepeatDetector } from '../clicks/capture.ts';
import { scheduleClickRetention } from '../clicks/retention.ts';
import { clickRoutes } from '../clicks/routes.ts';
import { ClickWriter } from '../clicks/writer.ts';
import { LinkCache } from './cache.ts';
import { linkRoutes } from './routes.ts';

const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

// One link cache per server (the API drops entries it changes; the redirect path reads them).
const caches = new WeakMap<Services, LinkCache>();
const cacheFor = (s: Services) => {
  let c = caches.get(s);
  if (!c) caches.set(s, (c = new LinkCache(s.sql, s.log)));
  return c;
};

/**
 * Tracking links: the Links API under /api/v1, and the click capture at the root
 * (`/api/c/{linkId}`, `/g/{linkId}`) with its link cache, batched click writer and retention job.
 */
export const linksModule: ModuleRegistration = {
  api: async (app, services) => linkRoutes(app, services, cacheFor(services)),
  root: async (app, services) => {
    const cache = cacheFor(services);
    await cache.start();
    const writer = new ClickWriter(services.databaseUrl, services.log);
    const stopRetention = scheduleClickRetention(services.sql, services.log, services.config.clickRetentionDays, RETENTION_INTERVAL_MS);
    // Fastify stops the HTTP server before onClose hooks run: no click arrives after this drain.
    app.addHook('onClose', async () => {
      stopRetention();
      await writer.close();
      await cache.stop();
    });
    const apiHost = new URL(services.config.publicUrl).host;
    const sharedHost = apiHost === new URL(services.config.trackingUrl).host;
    clickRoutes(app, { cache, writer, repeats: new RepeatDetector(), apiHost: sharedHost ? null : apiHost });
  },
};
