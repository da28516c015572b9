import type { ModuleRegistration } from '../../http/types.ts';
import { linkCacheOf } from './cache.ts';
import { linkRoutes } from './routes.ts';

/** Tracking links: the Links API under /api/v1. Their clicks are the clicks module's. */
export const linksModule: ModuleRegistration = {
  api: async (app, services) => linkRoutes(app, services, linkCacheOf(services)),
};
