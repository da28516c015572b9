import path from 'node:path';
import type { ModuleRegistration } from '../../http/types.ts';
import { linkCacheOf } from '../links/cache.ts';
import { RepeatDetector } from './capture.ts';
import { clickRoutes } from './routes.ts';
import { ClickWriter } from './writer.ts';

/**
 * Click capture at the root (`/api/c/{linkId}`, `/g/{linkId}`): the link cache it reads, the
 * batched click writer and where it keeps clicks during a database outage (retention is a job:
 * src/jobs.ts).
 */
export const clicksModule: ModuleRegistration = {
  root: async (app, services) => {
    const cache = linkCacheOf(services);
    await cache.start();
    const writer = new ClickWriter(services.databaseUrl, services.log, {
      spillDir: path.join(services.config.dataDir, 'clicks-spill'),
    });
    await writer.start();
    // Fastify stops the HTTP server before onClose hooks run: no click arrives after this drain.
    app.addHook('onClose', async () => {
      await writer.close();
      await cache.stop();
    });
    const apiHost = new URL(services.config.publicUrl).host;
    const sharedHost = apiHost === new URL(services.config.trackingUrl).host;
    clickRoutes(app, {
      cache,
      writer,
      repeats: new RepeatDetector(),
      apiHost: sharedHost ? null : apiHost,
    });
  },
};
