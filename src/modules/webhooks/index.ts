import type { ModuleRegistration } from '../../http/types.ts';
import { receiverRoutes, webhookSettingsRoutes } from './routes.ts';
import { webhookPaths } from './openapi.ts';

/**
 * Subscription webhooks (RevenueCat, Superwall) and qualified trials (docs/webhooks.md): settings
 * and the qualified-trials list under /api/v1; the receivers and the cron endpoint at the root;
 * the qualification, rematch and retention jobs (src/jobs.ts).
 */
export const webhooksModule: ModuleRegistration = {
  api: webhookSettingsRoutes,
  documentedPaths: webhookPaths,
  root: async (app, services) => {
    await app.register(async (scope) => receiverRoutes(scope, services));
  },
};
