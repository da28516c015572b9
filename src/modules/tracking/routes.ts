/**
 * SDK ingestion: `POST /api/track/configure` and `POST /api/track/event` (docs/spec/sdk-protocol.md).
 * Mounted at the root (both the tracking and the API host reach this process), with its own body
 * parsing, errors and headers: lenient input, strict output, never 3xx / 415 / 429.
 */
import type { Server } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_BODY_BYTES, type ApiInstance } from '../../http/types.ts';
import type { Services } from '../../services.ts';
import { normalizeIp } from '../../lib/ip.ts';
import { SdkAppCache } from './app-cache.ts';
import { readConfigureBody, readEventBody } from './sdk-body.ts';
import { credentialAndBody, header } from './sdk-auth.ts';
import { JSON_UTF8, readBodiesRaw } from '../../http/raw-body.ts';
import { sendSdkError, withDeadline } from './sdk-errors.ts';
import { configure } from './configure.ts';
import { EventWriter } from './event-writer.ts';
import { InstallWriter } from './install-writer.ts';
import { createSql, type Sql } from '../../db/client.ts';
import { EVENT_OK_BODY } from './configure-response.ts';
import { Admission } from './admission.ts';

/** Client events a subscription webhook reports too (flagged, not counted, while one is on). */
const WEBHOOK_COUNTED = new Set(['purchase', 'subscribe', 'start_trial']);
/** What the SDK endpoints of a server hold now: load, writer, pool (tests, operators' debugging). */
const loads = new WeakMap<Server, { admission: Admission; writer: EventWriter; ingest: Sql }>();
export const sdkLoadOf = (server: Server) => loads.get(server);
const SHED_LOG_INTERVAL_MS = 10_000;

/** Time box of the in-request Apple AdServices call; past it the install is answered undetermined. */
export const APPLE_INLINE_TIMEOUT_MS = 1_500;

export async function trackingRoutes(app: ApiInstance, services: Services) {
  const { sql, log, config } = services;
  const apps = new SdkAppCache(sql);
  apps.onAmbiguousAlias = (alias) =>
    log.warn(
      { legacyAppId: alias },
      'a legacy app id (SDK 0.1.0 alias) is claimed by apps of several organizations: it matches none until only one keeps it',
    );
  await apps.start();
  // The SDK's writes and lookups get a pool of their own that never plans a scan (client.ts).
  const ingest = createSql(services.databaseUrl, { max: 10, keyLookups: true });
  const writer = new EventWriter(ingest, log);
  const installs = new InstallWriter(ingest, log);
  const admission = new Admission();
  loads.set(app.server, { admission, writer, ingest });
  app.addHook('onClose', async () => {
    await writer.drain();
    await installs.drain();
    await ingest.end({ timeout: 5 });
    await apps.stop();
  });

  // Any content type (or none) is read as bytes and decoded as UTF-8 JSON by the handler.
  readBodiesRaw(app, MAX_BODY_BYTES);

  app.setErrorHandler(sendSdkError);

  // Admission before the body is read: over the in-flight budgets, 503 + Retry-After at once.
  let shed = 0;
  let shedLoggedAt = 0;
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST') return;
    const release = admission.admit(req.headers['content-length']);
    if (release) {
      reply.raw.once('close', release);
      return;
    }
    shed++;
    if (Date.now() - shedLoggedAt >= SHED_LOG_INTERVAL_MS) {
      log.warn({ shed, inFlight: admission.inFlight }, 'sdk requests shed: too much in flight');
      shed = 0;
      shedLoggedAt = Date.now();
    }
    reply
      .code(503)
      .header('retry-after', '5')
      .type(JSON_UTF8)
      .send(
        JSON.stringify({
          error: { code: 'service_unavailable', message: 'Temporarily unavailable; retry later' },
        }),
      );
    return reply;
  });

  async function configureHandler(req: FastifyRequest, reply: FastifyReply) {
    const receivedAt = new Date();
    const abandon = new AbortController();
    const work = (async () => {
      const { cred, raw } = await credentialAndBody(apps, req);
      const body = readConfigureBody(raw);
      return configure(
        {
          sql: ingest,
          log,
          appleUrl: config.appleAdServicesUrl,
          appleTimeoutMs: APPLE_INLINE_TIMEOUT_MS,
          installs,
        },
        cred.app,
        cred.environment,
        body,
        {
          ip: normalizeIp(req.ip),
          userAgent: header(req, 'user-agent'),
          sdkVersion: header(req, 'x-sdk-version'),
          receivedAt,
          signal: abandon.signal,
        },
      );
    })();
    const text = await withDeadline(work, abandon);
    reply.code(200).type(JSON_UTF8).send(text);
  }

  async function eventHandler(req: FastifyRequest, reply: FastifyReply) {
    const receivedAt = new Date();
    const { cred, raw } = await credentialAndBody(apps, req);
    const body = readEventBody(raw);
    const bytes = (req.body as Buffer | undefined)?.length ?? 0;
    const flags = cred.app.sdkEnabled ? [] : ['after_kill_switch'];
    // Revenue comes from RevenueCat / Superwall when one is on: a client purchase or trial start
    // is recorded, not counted (docs/webhooks.md "Client and webhook purchases").
    if (cred.app.webhookRevenue && WEBHOOK_COUNTED.has(body.eventName))
      flags.push('revenue_from_webhooks');
    await withDeadline(
      writer.submit({
        appId: cred.app.id,
        environment: cred.environment,
        body,
        flags,
        receivedAt,
        bytes,
        defaultCurrency: cred.app.currency,
        source: header(req, 'x-sdk-version') ? 'sdk' : 's2s',
      }),
    );
    reply.code(200).type(JSON_UTF8).send(EVENT_OK_BODY);
  }

  const methodNotAllowed = async (_req: FastifyRequest, reply: FastifyReply) => {
    reply
      .code(405)
      .header('allow', 'POST')
      .type(JSON_UTF8)
      .send(JSON.stringify({ error: { code: 'method_not_allowed', message: 'Use POST' } }));
  };

  for (const [url, handler] of [
    ['/api/track/configure', configureHandler],
    ['/api/track/event', eventHandler],
  ] as const) {
    app.route({ method: 'POST', url, schema: { hide: true }, handler });
    app.route({
      method: ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      url,
      schema: { hide: true },
      handler: methodNotAllowed,
    });
  }
  // Unknown paths under /api/track get the protocol's headers too (a 404 is final for clients).
  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: '/api/track/*',
    schema: { hide: true },
    handler: async (_req, reply) => {
      reply
        .code(404)
        .type(JSON_UTF8)
        .send(JSON.stringify({ error: { code: 'not_found', message: 'Unknown path' } }));
    },
  });
}
