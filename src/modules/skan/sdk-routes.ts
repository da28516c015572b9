/**
 * Conversion values for the app itself (the released SDKs have no SKAN code): `GET /api/track/skan`
 * answers the current schema, `POST /api/track/skan` with `device_id` the values to report now.
 * SDK-key authentication and error envelope of the SDK endpoints (tracking/sdk-auth.ts,
 * tracking/sdk-errors.ts); mounted at the root of both hosts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_BODY_BYTES, type ApiInstance } from '../../http/types.ts';
import type { Services } from '../../services.ts';
import { SdkAppCache } from '../tracking/app-cache.ts';
import { credentialAndBody } from '../tracking/sdk-auth.ts';
import { JSON_UTF8, readBodiesRaw } from '../../http/raw-body.ts';
import { SdkError, sendSdkError, withDeadline } from '../tracking/sdk-errors.ts';
import { deviceTotals, valuesFor } from './device-values.ts';
import { currentRevision, toSchemaResource } from './schema-store.ts';

export async function sdkSkanRoutes(app: ApiInstance, services: Services) {
  const { sql, config } = services;
  const apps = new SdkAppCache(sql);
  await apps.start();
  app.addHook('onClose', async () => apps.stop());

  readBodiesRaw(app, MAX_BODY_BYTES);
  app.setErrorHandler(sendSdkError);

  async function schemaHandler(req: FastifyRequest, reply: FastifyReply) {
    // A GET has no body: the key header (or legacy X-App-Id) names the app; `{}` stands in.
    if (!req.body || (req.body as Buffer).length === 0) req.body = Buffer.from('{}');
    const { cred } = await credentialAndBody(apps, req);
    const rev = await withDeadline(currentRevision(sql, cred.app.id));
    reply
      .code(200)
      .type(JSON_UTF8)
      .send(JSON.stringify(toSchemaResource(cred.app, rev)));
  }

  async function valuesHandler(req: FastifyRequest, reply: FastifyReply) {
    const { cred, raw } = await credentialAndBody(apps, req);
    const deviceId = raw.device_id;
    if (typeof deviceId !== 'string' || deviceId === '' || deviceId.length > 255)
      throw new SdkError(
        400,
        'validation_error',
        'device_id: required, a string of 1–255 characters',
      );
    const answer = await withDeadline(
      (async () => {
        const [device] = await sql<
          { id: string; installed_at: Date | null; first_seen_at: Date }[]
        >`
          select id, installed_at, first_seen_at from devices
          where app_id = ${cred.app.id} and environment = ${cred.environment} and device_id = ${deviceId}`;
        if (!device)
          throw new SdkError(404, 'unknown_device', 'No configure recorded for this device_id');
        const [rev, totals] = await Promise.all([
          currentRevision(sql, cred.app.id),
          deviceTotals(sql, device.id, cred.app.currency, config.fxRates),
        ]);
        return valuesFor(rev, totals, device.installed_at ?? device.first_seen_at, new Date());
      })(),
    );
    reply.code(200).type(JSON_UTF8).send(JSON.stringify(answer));
  }

  app.route({
    method: 'GET',
    url: '/api/track/skan',
    schema: { hide: true },
    handler: schemaHandler,
  });
  app.route({
    method: 'POST',
    url: '/api/track/skan',
    schema: { hide: true },
    handler: valuesHandler,
  });
}
