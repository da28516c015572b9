import type { ModuleRegistration } from '../http/types.ts';
import { authModule } from './auth/index.ts';
import { apiKeysModule } from './api-keys/index.ts';
import { appsModule } from './apps/index.ts';
import { healthModule } from './health/index.ts';
import { trackingModule } from './tracking/index.ts';
import { linksModule } from './links/index.ts';
import { clicksModule } from './clicks/index.ts';
import { analyticsModule } from './analytics/index.ts';
import { integrationsModule } from './integrations/index.ts';
import { dashboardModule } from './dashboard/index.ts';
import { skanModule } from './skan/index.ts';
import { webhooksModule } from './webhooks/index.ts';

/**
 * Every feature, mounted in this order: each adds routes under /api/v1 (`api`) and/or at the root
 * (`root`). Auth's `apiHooks` guard every /api/v1 route, wherever its module stands in the list.
 */
export const MODULES: ModuleRegistration[] = [
  authModule,
  apiKeysModule,
  appsModule,
  healthModule,
  trackingModule,
  linksModule,
  clicksModule,
  analyticsModule,
  integrationsModule,
  skanModule,
  webhooksModule,
  dashboardModule,
];
