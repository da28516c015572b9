import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Services } from '../services.ts';
import type { RawRoutes } from './raw-routes.ts';

/** A Fastify instance whose route schemas are zod schemas (validation, types and OpenAPI). */
export type ApiInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** A route as registered; `access` is its declared `config.access` (auth/principal.ts), if any. */
export type RegisteredRoute = { method: string; url: string; hidden: boolean; access?: string };
declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes: RegisteredRoute[];
    /** Routes answered before Fastify (raw-routes.ts): the click hot path. */
    rawRoutes: RawRoutes;
  }
}

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * How a feature mounts: every module is one entry of `MODULES` (src/modules/index.ts), in order.
 * Each gets the shared services and adds its own routes; routes under /api/v1 get the API
 * conventions and rate limiting for free, and the access rules of whichever module sets `apiHooks`.
 */
export type ModuleRegistration = {
  /** Request hooks of the whole /api/v1 scope, added before rate limiting and before any route (auth: who is calling, and may they). */
  apiHooks?: (v1: ApiInstance, services: Services) => void;
  /** The rate-limit bucket of an /api/v1 request (auth: the key or session); without one, the client address. */
  rateLimitKey?: (req: FastifyRequest) => string | undefined;
  /** Routes under /api/v1 (authenticated, rate limited). */
  api?: (app: ApiInstance, services: Services) => Promise<void>;
  /** Routes outside /api/v1 (tracking, SDK ingestion, pages): they own their conventions. */
  root?: (app: ApiInstance, services: Services) => Promise<void>;
  /** OpenAPI path items written by hand, for routes that document no zod schema because they parse their own input (SDK ingestion). */
  documentedPaths?: (services: Services) => Record<string, object>;
};
