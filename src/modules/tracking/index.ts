import type { ModuleRegistration } from '../../http/types.ts';
import { sdkPaths } from './openapi.ts';
import { trackingRoutes } from './routes.ts';

/** SDK ingestion (`/api/track/configure`, `/api/track/event`), mounted at the root of both hosts. */
export const trackingModule: ModuleRegistration = {
  root: trackingRoutes,
  documentedPaths: sdkPaths,
};
