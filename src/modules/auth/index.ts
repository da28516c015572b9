import type { ModuleRegistration } from '../../http/types.ts';
import { createPrincipalResolver, enforceAccess } from './principal.ts';
import { authRoutes } from './routes.ts';
import { teamRoutes } from './team-routes.ts';
import { FailureLimiter } from './failure-limit.ts';

/**
 * Who is calling the /api/v1 API and whether they may: resolves the API key or session of every
 * request, rate-limits per key or session, enforces each route's `access`; plus setup, login,
 * logout, password change, invitations and the team (members and roles).
 */
export const authModule: ModuleRegistration = {
  apiHooks: (v1, { sql, config }) => {
    const failures = new FailureLimiter(config.authFailuresPerMinute);
    v1.addHook('onRequest', createPrincipalResolver(sql, failures, config.sessionIdleHours));
    v1.addHook('preHandler', enforceAccess);
  },
  rateLimitKey: (req) => {
    const p = req.principal;
    return p?.kind === 'api_key'
      ? `key:${p.keyId}`
      : p?.kind === 'session'
        ? `ses:${p.sessionId}`
        : undefined;
  },
  api: async (app, services) => {
    await authRoutes(app, services);
    await teamRoutes(app, services);
  },
};
