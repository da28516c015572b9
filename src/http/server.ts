import { STATUS_CODES } from 'node:http';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { FastifyBaseLogger } from 'fastify';
import type { Services } from '../services.ts';
import { compileTrustProxy } from './client-ip.ts';
import { RawRoutes, requestId, requestLogFields } from './raw-routes.ts';
import { ApiError, type ErrorDetail } from './errors.ts';
import { DOCS_PAGE, finishDocument, OPENAPI_TITLE } from './openapi.ts';
import {
  MAX_BODY_BYTES,
  type ApiInstance,
  type ModuleRegistration,
  type RegisteredRoute,
} from './types.ts';
import { INVALID_TEXT_MESSAGE, isInvalidTextError } from '../db/errors.ts';
import { nulRefusingValidatorCompiler } from './validation.ts';
import { htmlHeaders, NOSNIFF, PAGE_CSP, SELF_SCRIPTS_CSP } from './security-headers.ts';

/** Time allowed to receive a whole request. */
export const REQUEST_TIMEOUT_MS = 30_000;

export async function buildServer(
  services: Services,
  modules: ModuleRegistration[],
): Promise<ApiInstance> {
  const { config, log } = services;
  const trustProxy = compileTrustProxy(config.trustedProxies);
  const rawRoutes = new RawRoutes(trustProxy, log);
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    // A request (headers and body) must arrive within this; slow senders cannot hold sockets, and
    // a shutdown never waits on them for long.
    requestTimeout: REQUEST_TIMEOUT_MS,
    trustProxy,
    genReqId: (req) => requestId(req.headers['x-request-id']),
    routerOptions: { ignoreTrailingSlash: true },
    serverFactory: rawRoutes.serverFactory,
    // A request Node cannot parse (headers or URL over 16 KiB, bad framing, read timeout) gets
    // the error envelope too, then the connection is closed.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, code, message] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'validation_error', 'Request line and headers over 16 KiB']
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'validation_error', 'Request not received in time']
            : [400, 'validation_error', 'Malformed HTTP request'];
      const body = JSON.stringify({ error: { code, message, requestId: requestId(undefined) } });
      if (socket.writable)
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
        );
      socket.destroy(err);
    },
    // A path Fastify cannot decode (`%ZZ`, invalid UTF-8) gets the API's error envelope too.
    frameworkErrors: (err, req, reply) => {
      reply.header('x-request-id', req.id);
      sendError(err, req, reply);
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.decorate('rawRoutes', rawRoutes);

  // Every route as registered, so a test can check that the OpenAPI document lists them all.
  const routes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat())
      routes.push({
        method,
        url: r.url,
        hidden: Boolean((r.schema as { hide?: boolean } | undefined)?.hide),
        access: (r.config as { access?: string } | undefined)?.access,
      });
  });

  app.setValidatorCompiler(nulRefusingValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  // Shutting down: answers still in flight end their keep-alive connection, so closing does not
  // wait for clients to drop connections that were busy when it began (Fastify closes idle ones).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    rawRoutes.closing = true;
    done();
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    reply.header('x-content-type-options', NOSNIFF['x-content-type-options']);
    // HTML that set no policy of its own gets the strictest that fits it.
    const html = String(reply.getHeader('content-type') ?? '').startsWith('text/html');
    if (html && !reply.getHeader('content-security-policy'))
      reply.headers(htmlHeaders(req.url.startsWith('/api/v1/docs') ? SELF_SCRIPTS_CSP : PAGE_CSP));
    done(null, payload);
  });
  // One log line per request: id, method, path, status, time. Never headers, bodies or query strings.
  app.addHook('onResponse', (req, reply, done) => {
    if (log.isLevelEnabled('info')) {
      req.log.info(
        requestLogFields(req.method, req.url, reply.statusCode, reply.elapsedTime),
        'request',
      );
    }
    done();
  });

  app.setErrorHandler((err: FastifyError, req, reply) => sendError(err, req, reply));
  app.setNotFoundHandler((req, reply) =>
    sendError(
      new ApiError(404, 'not_found', `No route for ${req.method} ${req.url.split('?')[0]}`),
      req,
      reply,
    ),
  );

  await app.register(cookie);
  const documentedPaths = Object.assign(
    {},
    ...modules.map((m) => m.documentedPaths?.(services) ?? {}),
  );
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: OPENAPI_TITLE,
        version: '1.0.0',
        description: OPENAPI_DESCRIPTION,
      },
      servers: [{ url: config.publicUrl }],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'ak_live_…',
            description:
              'A management API key created on the dashboard API page or with `apprefer api-keys create`.',
          },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'apprefer_session',
            description:
              'Dashboard session from /auth/login. Mutations also need the X-CSRF-Token header.',
          },
        },
      },
      security: [{ apiKey: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (doc) => finishDocument(jsonSchemaTransformObject(doc), documentedPaths),
  });
  await app.register(swaggerUi, {
    routePrefix: '/api/v1/docs',
    uiConfig: { deepLinking: true },
    ...DOCS_PAGE,
  });
  app.get('/openapi.yaml', { schema: { hide: true } }, async (_req, reply) => {
    reply.type('application/yaml; charset=utf-8');
    return app.swagger({ yaml: true });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const rateLimitKeys = modules.flatMap((m) => (m.rateLimitKey ? [m.rateLimitKey] : []));
  await app.register(
    async (v1) => {
      // Before the rate limiter's own onRequest hook, so that its bucket can be the caller's.
      for (const m of modules) m.apiHooks?.(v1, services);
      await v1.register(rateLimit, {
        max: config.apiRateLimitPerMinute,
        timeWindow: 60_000,
        keyGenerator: (req) => {
          for (const key of rateLimitKeys) {
            const k = key(req);
            if (k !== undefined) return k;
          }
          return `ip:${req.ip}`;
        },
        errorResponseBuilder: (_req, ctx) =>
          new ApiError(
            429,
            'rate_limited',
            `Rate limit of ${ctx.max} requests per minute exceeded; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
          ),
      });
      for (const m of modules) if (m.api) await m.api(v1, services);
    },
    { prefix: '/api/v1' },
  );

  for (const m of modules)
    if (m.root) await app.register(async (scope) => m.root!(scope, services));
  return app;
}

function sendError(err: FastifyError | ApiError, req: FastifyRequest, reply: FastifyReply) {
  const api = toApiError(err);
  if (api.statusCode >= 500) req.log.error({ err, reqId: req.id }, 'request failed');
  if (api.code === 'rate_limited' && !reply.getHeader('retry-after'))
    reply.header('retry-after', 60);
  reply
    .code(api.statusCode)
    .type('application/json; charset=utf-8')
    .send({
      error: {
        code: api.code,
        message: api.message,
        ...(api.details ? { details: api.details } : {}),
        requestId: req.id,
      },
    });
}

/** Maps everything thrown in a request to the docs/spec/api.md error envelope. */
export function toApiError(err: FastifyError | ApiError): ApiError {
  if (err instanceof ApiError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const details: ErrorDetail[] = err.validation.flatMap((v) => {
      const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
      const keys = (v.params as { keys?: string[] }).keys;
      if (v.keyword === 'unrecognized_keys' && keys) {
        return keys.map((k) => ({ path: path ? `${path}.${k}` : k, message: 'unknown field' }));
      }
      return [{ path: path || err.validationContext || 'body', message: v.message ?? 'invalid' }];
    });
    return new ApiError(
      400,
      'validation_error',
      details.map((d) => `${d.path}: ${d.message}`).join('; '),
      details,
    );
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(
        413,
        'payload_too_large',
        `Body over the limit of ${MAX_BODY_BYTES} bytes`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'Send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(
        400,
        'validation_error',
        'body: empty body with Content-Type application/json',
        [{ path: 'body', message: 'empty' }],
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'validation_error', 'body: not valid JSON', [
        { path: 'body', message: 'not valid JSON' },
      ]);
  }
  if (isInvalidTextError(err)) return new ApiError(400, 'validation_error', INVALID_TEXT_MESSAGE);
  if (err.statusCode === 429) return new ApiError(429, 'rate_limited', err.message);
  if (err instanceof SyntaxError || (err.statusCode === 400 && err.message?.includes('JSON'))) {
    return new ApiError(400, 'validation_error', 'body: not valid JSON', [
      { path: 'body', message: 'not valid JSON' },
    ]);
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError(
      err.statusCode,
      err.statusCode === 404 ? 'not_found' : 'validation_error',
      err.message,
    );
  }
  return new ApiError(
    500,
    'internal_error',
    'Internal error; quote the request id when reporting it',
  );
}

const OPENAPI_DESCRIPTION = `
The management REST API of a self-hosted, AppRefer-compatible mobile attribution platform.

**Authentication.** \`Authorization: Bearer ak_live_…\` (an API key) or the dashboard session cookie.
Keys carry one permission: \`full\` (everything), \`read_only\` (every GET), \`analytics\` (GET on the
analytics endpoints, \`/portfolio\` and \`/me\`). A key may be limited to some apps; other apps are then 404.
API-key management accepts a session only.

**Conventions.** JSON in and out. A single resource is \`{"data": {...}}\`; a list is
\`{"data": [...], "meta": {"hasMore", "cursor"}}\` with keyset pagination (\`limit\` 1–200, default 50,
and the opaque \`cursor\` of the previous page; a tampered or foreign cursor is a 400).
Unknown body or query fields are rejected with a 400 naming them. Errors are
\`{"error": {"code", "message", "details"?, "requestId"}}\`. Every response carries \`X-Request-Id\`
and the \`X-RateLimit-Limit\`, \`X-RateLimit-Remaining\` and \`X-RateLimit-Reset\` headers.
`.trim();
