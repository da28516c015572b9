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
import { answerError, JSON_UTF8, readBodiesRaw, receiverErrors } from '../../http/raw-body.ts';
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

const OK = JSON.stringify({ status: 'received' });

export async function receiverRoutes(app: ApiInstance, services: Services) {
  const { sql, log, config } = services;
  const writer = new PostbackWriter(sql, log);
  app.addHook('onClose', async () => writer.drain());

  readBodiesRaw(app, MAX_POSTBACK_BYTES);
  // Not stored: a 503 makes the device retry later, which is what we want.
  receiverErrors(app, MAX_POSTBACK_BYTES, 'skan postback not stored');

  async function receive(req: FastifyRequest, reply: FastifyReply) {
    const receivedAt = new Date();
    const buf = req.body as Buffer | undefined;
    let body: unknown;
    try {
      if (!buf || buf.length === 0) throw new Error('empty');
      body = JSON.parse(buf.toString('utf8'));
    } catch {
      return answerError(reply, 400, 'invalid_json', 'The body is not JSON');
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
