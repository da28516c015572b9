/**
 * The postback receivers Apple calls (docs/spec/external-apis.md §7.1), at the root of the server:
 * `/.well-known/skadnetwork/report-attribution/`, `/api/skan/postback` (SKAdNetwork) and
 * `/.well-known/appattribution/report-attribution/` (AdAttributionKit), with or without the
 * trailing slash. Their own lenient parsing: any content type, and every well-formed JSON body
 * is stored (verified, or unverified with the reason) and answered 200, since Apple's device
 * retries for days otherwise; only a body that is not JSON is a 400.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiInstance } from '../../http/types.ts';
import type { Services } from '../../services.ts';
import { toPostbackRow } from './postback.ts';
import { PostbackWriter } from './writer.ts';

/** Postbacks are a few hundred bytes; anything near this is not one. */
export const MAX_POSTBACK_BYTES = 64 * 1024;
export const RECEIVER_PATHS = [
  '/.well-known/skadnetwork/report-attribution/',
  '/api/skan/postback',
  '/.well-known/appattribution/report-attribution/',
] as const;

const JSON_UTF8 = 'application/json; charset=utf-8';
const OK = JSON.stringify({ status: 'received' });
const reject = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply
    .code(status)
    .type(JSON_UTF8)
    .send(JSON.stringify({ error: { code, message } }));

export async function receiverRoutes(app: ApiInstance, services: Services) {
  const { sql, log, config } = services;
  const writer = new PostbackWriter(sql, log);
  app.addHook('onClose', async () => writer.drain());

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: MAX_POSTBACK_BYTES },
    (_req, body, done) => done(null, body),
  );
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return payload;
  });
  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reject(reply, 413, 'payload_too_large', `Body over ${MAX_POSTBACK_BYTES} bytes`);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      return reject(reply, 400, 'invalid_json', 'Body could not be read');
    // Not stored: a 503 makes the device retry later, which is what we want.
    req.log.error({ err, reqId: req.id }, 'skan postback not stored');
    reply.header('retry-after', '60');
    return reject(reply, 503, 'service_unavailable', 'Not stored; retry later');
  });

  async function receive(req: FastifyRequest, reply: FastifyReply) {
    const receivedAt = new Date();
    const buf = req.body as Buffer | undefined;
    let body: unknown;
    try {
      if (!buf || buf.length === 0) throw new Error('empty');
      body = JSON.parse(buf.toString('utf8'));
    } catch {
      return reject(reply, 400, 'invalid_json', 'The body is not JSON');
    }
    await writer.submit(
      toPostbackRow(body, { allowDevelopmentKeys: config.skanAllowDevelopmentKeys, receivedAt }),
    );
    reply.code(200).type(JSON_UTF8).send(OK);
  }

  // The router ignores trailing slashes (src/http/server.ts): each path answers with and without.
  for (const url of RECEIVER_PATHS)
    app.route({ method: 'POST', url, schema: { hide: true }, handler: receive });
}
