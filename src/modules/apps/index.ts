import type { ModuleRegistration } from '../../http/types.ts';
import { appRoutes } from './routes.ts';

/** Apps: their stores, SDK keys and attribution settings. */
export const appsModule: ModuleRegistration = { api: appRoutes };
