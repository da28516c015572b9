import type { ModuleRegistration } from '../../http/types.ts';
import { analyticsRoutes } from './routes.ts';

/** Analytics: overview, stats, event log, attributions and portfolio (rollups are folded by a job, src/jobs.ts). */
export const analyticsModule: ModuleRegistration = {
  api: analyticsRoutes,
};
