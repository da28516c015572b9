import type { ModuleRegistration } from '../../http/types.ts';
import { apiKeyRoutes } from './routes.ts';

/** API-key management (dashboard sessions only) and `/me`, which any credential may call. */
export const apiKeysModule: ModuleRegistration = { api: apiKeyRoutes };
