import type { ModuleRegistration } from '../../http/types.ts';
import { analyticsRoutes } from './routes.ts';
import { startFolder } from './rollups.ts';

/** Analytics: overview, stats, event log, attributions and portfolio; folds rollup deltas in the background. */
export const analyticsModule: ModuleRegistration = {
  async api(app, services) {
    await analyticsRoutes(app, services);
    let folder: ReturnType<typeof startFolder> | null = null;
    app.addHook('onReady', async () => { folder = startFolder(services.sql, services.log); });
    app.addHook('onClose', async () => { await folder?.stop(); });
  },
};
