import type { ModuleRegistration } from '../../http/types.ts';
import { healthRoutes } from './routes.ts';

/** `/healthz` (the process answers) and `/readyz` (the database does too). */
export const healthModule: ModuleRegistration = { root: healthRoutes };
