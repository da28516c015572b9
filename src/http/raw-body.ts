/**
 * Routes whose callers are programs that retry (the SDKs, Apple's devices, RevenueCat, Superwall):
 * the body is read as bytes whatever its Content-Type (each handler decodes it: the SDKs send
 * `text/plain`, Svix signs the exact bytes), answers are never cached, and errors are a small
 * JSON object `{"error":{"code","message"}}`.
 */
import type { FastifyReply } from 'fastify';
import type { ApiInstance } from './types.ts';

export const JSON_UTF8 = 'application/json; charset=utf-8';

/** Sends `body` as JSON with `status`. */
export const answerJson = (reply: FastifyReply, status: number, body: unknown) =>
  reply.code(status).type(JSON_UTF8).send(JSON.stringify(body));

/** Sends `{"error":{"code","message"}}` with `status`. */
export const answerError = (reply: FastifyReply, status: number, code: string, message: string) =>
  answerJson(reply, status, { error: { code, message } });

/** In this plugin scope: bodies up to `maxBytes` as a Buffer, whatever the type; `Cache-Control: no-store`. */
export function readBodiesRaw(app: ApiInstance, maxBytes: number) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_req, body, done) =>
    done(null, body),
  );
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return payload;
  });
}

/**
 * The error answers of a receiver of someone else's postbacks: 413 over `maxBytes`, 400 for a body
 * that cannot be read, and otherwise 503 + `Retry-After: 60`, since nothing was stored and the
 * sender retries. `notStored` is the log message of that last case.
 */
export function receiverErrors(app: ApiInstance, maxBytes: number, notStored: string) {
  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return answerError(reply, 413, 'payload_too_large', `Body over ${maxBytes} bytes`);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      return answerError(reply, 400, 'invalid_json', err.message || 'Body could not be read');
    req.log.error({ err, reqId: req.id }, notStored);
    reply.header('retry-after', '60');
    return answerError(reply, 503, 'service_unavailable', 'Not stored; retry later');
  });
}
