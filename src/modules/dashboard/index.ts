import type { ModuleRegistration } from '../../http/types.ts';
import { dashboardRoutes } from './routes.ts';

/** The dashboard's entry page at `/`. */
export const dashboardModule: ModuleRegistration = { root: dashboardRoutes };
