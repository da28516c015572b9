/**
 * SDK ingestion: `POST /api/track/configure` and `POST /api/track/event` (sdk-protocol.md).
 * Mounted at the root (both the tracking and the API host reach this process), with its own body
 * parsing, errors and headers: lenient input, strict output, never 3xx / 415 / 429.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_BODY_BYTES, type ApiInstance } from '../../http/server.ts';
import type { Services } from '../../services.ts';
import { AsaWorker } from '../attribution/asa-worker.ts';
import { normalizeIp } from '../../lib/ip.ts';
import { INVALID_TEXT_MESSAGE, isInvalidTextError } from '../../db/errors.ts';
import { SdkAppCache, type SdkCredential } from './app-cache.ts';
import { BodyError, bodyAppId, parseJsonObject, readConfigureBody, readEventBody } from './body.ts';
import { configure } from './configure.ts';
import { EventWriter, isTransient, OverloadedError, pruneFingerprints } from './event-writer.ts';
import { EVENT_OK_BODY } from './response.ts';

/** Time box of the in-request Apple AdServices call; past it the install is answered undetermined. */
export const APPLE_INLINE_TIMEOUT_MS = 1_500;
/** Hard internal deadline of a request (clients time out at 10 s). */
const REQUEST_DEADLINE_MS = 5_000;
const JSON_UTF8 = 'application/json; charset=utf-8';

class SdkError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}
class DeadlineError extends Error {}

const header = (req: FastifyRequest, name: string): string | null => {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s ? s.trim() : null;
};

export async function trackingRoutes(app: ApiInstance, services: Services) {
  const { sql, log, config } = services;
  const apps = new SdkAppCache(sql);
  await apps.start();
  const writer = new EventWriter(sql, log);
  const asaWorker = new AsaWorker(sql, log, { appleUrl: config.appleAdServicesUrl });
  asaWorker.start();
  const pruneTimer = setInterval(() => void pruneFingerprints(sql).catch((err) => log.warn({ err }, 'fingerprint prune failed')), 60_000);
  pruneTimer.unref();
  app.addHook('onClose', async () => {
    clearInterval(pruneTimer);
    await asaWorker.stop();
    await writer.drain();
    await apps.stop();
  });

  // Any content type (or none) is read as bytes and decoded as UTF-8 JSON by the handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => done(null, body));

  // Closing the server adds `Connection: close` to answers in flight (src/http/server.ts).
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    let status = 500;
    let code = 'internal_error';
    let message = 'Internal error';
    if (err instanceof SdkError) ({ status, code, message } = err);
    else if (err instanceof BodyError) { status = 400; code = err.code; message = err.message; }
    else if (isInvalidTextError(err)) { status = 400; code = 'validation_error'; message = `Body: ${INVALID_TEXT_MESSAGE}`; }
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') { status = 413; code = 'payload_too_large'; message = `Body over the limit of ${MAX_BODY_BYTES} bytes`; }
    else if (err instanceof OverloadedError || err instanceof DeadlineError || isTransient(err)) {
      status = 503; code = 'service_unavailable'; message = 'Temporarily unavailable; retry later';
      reply.header('retry-after', '5');
    } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // Any other client-side failure of Fastify (malformed length, aborted body…): never a 415 or 429.
      status = 400; code = 'invalid_json'; message = 'Body could not be read';
    }
    if (status === 500) req.log.error({ err, reqId: req.id, path: req.url.split('?')[0] }, 'sdk request failed');
    else if (status === 503) req.log.warn({ err: { message: err.message, code: err.code }, reqId: req.id }, 'sdk request shed');
    reply.code(status).type(JSON_UTF8).send(JSON.stringify({ error: { code, message } }));
  });

  /** X-AppRefer-Key wins; else legacy X-App-Id, else body app_id (SDK 0.1.0, live). */
  async function authenticate(req: FastifyRequest, body: Record<string, unknown> | null): Promise<SdkCredential> {
    const key = header(req, 'x-apprefer-key');
    if (key) {
      const cred = await apps.bySdkKey(key);
      if (!cred) throw new SdkError(401, 'invalid_sdk_key', 'Unknown SDK key');
      return cred;
    }
    const legacy = header(req, 'x-app-id') || bodyAppId(body);
    if (!legacy) throw new SdkError(401, 'invalid_sdk_key', 'Missing X-AppRefer-Key header');
    const cred = await apps.byLegacyAppId(legacy);
    if (!cred) throw new SdkError(401, 'invalid_sdk_key', 'Unknown app id');
    return cred;
  }

  /** With a key, a bad key is a 401 whatever the body; the legacy form needs the body's app_id. */
  async function credentialAndBody(req: FastifyRequest) {
    const keyed = header(req, 'x-apprefer-key') ? await authenticate(req, null) : null;
    const raw = parseJsonObject(req.body as Buffer | undefined);
    return { cred: keyed ?? await authenticate(req, raw), raw };
  }

  const withDeadline = <T>(p: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout;
    const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new DeadlineError('deadline')), REQUEST_DEADLINE_MS); });
    return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
  };

  async function configureHandler(req: FastifyRequest, reply: FastifyReply) {
    const receivedAt = new Date();
    const work = (async () => {
      const { cred, raw } = await credentialAndBody(req);
      const body = readConfigureBody(raw);
      return configure({ sql, log, appleUrl: config.appleAdServicesUrl, appleTimeoutMs: APPLE_INLINE_TIMEOUT_MS }, cred.app, cred.environment, body, {
        ip: normalizeIp(req.ip), userAgent: header(req, 'user-agent'), sdkVersion: header(req, 'x-sdk-version'), receivedAt,
      });
    })();
    const text = await withDeadline(work);
    reply.code(200).type(JSON_UTF8).send(text);
  }

  async function eventHandler(req: FastifyRequest, reply: FastifyReply) {
    const receivedAt = new Date();
    const { cred, raw } = await credentialAndBody(req);
    const body = readEventBody(raw);
    const flags = cred.app.sdkEnabled ? [] : ['after_kill_switch'];
    await withDeadline(writer.submit({
      appId: cred.app.id, environment: cred.environment, body, flags, receivedAt, defaultCurrency: cred.app.currency,
      source: header(req, 'x-sdk-version') ? 'sdk' : 's2s',
    }));
    reply.code(200).type(JSON_UTF8).send(EVENT_OK_BODY);
  }

  const methodNotAllowed = async (_req: FastifyRequest, reply: FastifyReply) => {
    reply.code(405).header('allow', 'POST').type(JSON_UTF8)
      .send(JSON.stringify({ error: { code: 'method_not_allowed', message: 'Use POST' } }));
  };

  for (const [url, handler] of [['/api/track/configure', configureHandler], ['/api/track/event', eventHandler]] as const) {
    app.route({ method: 'POST', url, schema: { hide: true }, handler });
    app.route({ method: ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url, schema: { hide: true }, handler: methodNotAllowed });
  }
  // Unknown paths under /api/track get the protocol's headers too (a 404 is final for clients).
  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url: '/api/track/*', schema: { hide: true },
    handler: async (_req, reply) => {
      reply.code(404).type(JSON_UTF8).send(JSON.stringify({ error: { code: 'not_found', message: 'Unknown path' } }));
    },
  });
}

