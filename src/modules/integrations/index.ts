import type { ModuleRegistration } from '../../http/types.ts';
import { integrationRoutes } from './routes.ts';

/**
 * Ad-network integrations and conversion forwarding (docs/forwarding.md): the Integrations API
 * under /api/v1; the outbox (outbox.ts, called by whatever records events) and the sender job
 * (sender.ts, listed in src/jobs.ts).
 */
export const integrationsModule: ModuleRegistration = {
  api: async (app, services) => integrationRoutes(app, services),
};
