import type { ModuleRegistration } from '../http/server.ts';
import { trackingModule } from './tracking/index.ts';
import { linksModule } from './links/index.ts';
import { analyticsModule } from './analytics/index.ts';

/**
 * Feature modules beyond the foundation (apps, API keys, auth, health, dashboard are built in).
 * Each adds routes under /api/v1 (`api`) and/or at the root (`root`).
 */
export const MODULES: ModuleRegistration[] = [
  trackingModule,
  linksModule,
  analyticsModule,
];
