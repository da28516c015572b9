/**
 * Webhook settings and the qualified-trials list under /api/v1; the receivers RevenueCat and
 * Superwall call and the cron endpoint at the root (docs/webhooks.md).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiInstance } from '../../http/types.ts';
import { answerError, answerJson, readBodiesRaw, receiverErrors } from '../../http/raw-body.ts';
import { errorResponses } from '../../http/errors.ts';
import { ListOf, single, SingleOf } from '../../http/envelope.ts';
import { seqPage } from '../../http/cursor.ts';
import { safeEqual } from '../../lib/crypto.ts';
import { endOf } from '../../http/instant.ts';
import type { Services } from '../../services.ts';
import { visibleApp } from '../auth/principal.ts';
import { AppIdParams } from '../apps/schemas.ts';
import { qualifyDueTrials } from './qualified-trials.ts';
import { listQualifiedTrials, toQualifiedTrialResource } from './qualified-trial-list.ts';
import { WebhookWriter } from './recorder.ts';
import { OverloadedError } from '../tracking/event-writer.ts';
import { fromRevenueCat } from './revenuecat.ts';
import {
  QualifiedTrial,
  QualifiedTrialQuery,
  RevenueCatPatch,
  RevenueCatWebhook,
  SuperwallPatch,
  SuperwallWebhook,
} from './schemas.ts';
import {
  getWebhook,
  patchRevenueCat,
  patchSuperwall,
  receiverApp,
  type ReceiverApp,
  revenueCatAuthorized,
  superwallSecret,
  toRevenueCatResource,
  toSuperwallResource,
} from './settings.ts';
import { PayloadError, type SubscriptionEvent, type WebhookSource } from './subscription-event.ts';
import { fromSuperwall, svixRefusal } from './superwall.ts';

export async function webhookSettingsRoutes(app: ApiInstance, { sql, config, cursors }: Services) {
  app.get(
    '/apps/:appId/integrations/revenuecat',
    {
      schema: {
        tags: ['Integrations'],
        summary: 'RevenueCat webhook settings: the URL to paste and whether a secret is set',
        params: AppIdParams,
        response: { 200: SingleOf(RevenueCatWebhook), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      return single(toRevenueCatResource(config, await getWebhook(sql, a.id, 'revenuecat')));
    },
  );
  app.patch(
    '/apps/:appId/integrations/revenuecat',
    {
      schema: {
        tags: ['Integrations'],
        summary:
          'Enable or disable RevenueCat webhooks, or rotate the secret (the new one is in the answer, once)',
        params: AppIdParams,
        body: RevenueCatPatch,
        response: {
          200: SingleOf(RevenueCatWebhook),
          ...errorResponses(400, 401, 403, 404, 413, 415, 429),
        },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const { row, secret } = await patchRevenueCat(sql, a.id, req.body);
      return single(toRevenueCatResource(config, row, secret));
    },
  );
  app.get(
    '/apps/:appId/integrations/superwall',
    {
      schema: {
        tags: ['Integrations'],
        summary:
          'Superwall webhook settings: the URL to paste and whether the signing secret is set',
        params: AppIdParams,
        response: { 200: SingleOf(SuperwallWebhook), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      return single(toSuperwallResource(config, await getWebhook(sql, a.id, 'superwall')));
    },
  );
  app.patch(
    '/apps/:appId/integrations/superwall',
    {
      schema: {
        tags: ['Integrations'],
        summary: "Set Superwall's whsec_… signing secret (write-only) and enable or disable it",
        params: AppIdParams,
        body: SuperwallPatch,
        response: {
          200: SingleOf(SuperwallWebhook),
          ...errorResponses(400, 401, 403, 404, 413, 415, 429),
        },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const row = await patchSuperwall(sql, config.secretKey, a.id, req.body);
      return single(toSuperwallResource(config, row));
    },
  );

  app.get(
    '/apps/:appId/qualified-trials',
    {
      schema: {
        tags: ['Qualified trials'],
        summary: 'Trial starts held, qualified, disqualified and forwarded; newest first',
        params: AppIdParams,
        querystring: QualifiedTrialQuery,
        response: { 200: ListOf(QualifiedTrial), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const q = req.query;
      return seqPage(
        cursors,
        `qualified-trials:${a.id}:${JSON.stringify([q.status, q.environment, q.from, q.to])}`,
        q,
        (afterSeq) =>
          listQualifiedTrials(sql, a.id, {
            limit: q.limit,
            afterSeq,
            status: q.status ?? null,
            environment: q.environment,
            from: q.from ? new Date(q.from) : null,
            to: q.to ? endOf(q.to) : null,
          }),
        toQualifiedTrialResource,
      );
    },
  );
}

/** Bodies up to 1 MiB are accepted (a delivery is a few kB). */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

/** The receivers, at the root: their own body parsing (raw bytes: Svix signs them). */
export async function receiverRoutes(app: ApiInstance, services: Services) {
  const { sql, config, log } = services;
  // Group commit on one connection: a storm (RevenueCat retries each failure 5 times)
  // leaves the pool to SDK ingestion; past its queue, a 503 asks the sender to retry later.
  const writer = new WebhookWriter(sql, log);
  app.addHook('onClose', async () => writer.drain());

  readBodiesRaw(app, MAX_WEBHOOK_BYTES);
  // Nothing was acknowledged: the sender retries (RevenueCat 5 times, Svix for days).
  receiverErrors(app, MAX_WEBHOOK_BYTES, 'webhook not recorded');

  /** Reads, checks and records one delivery; `parse` maps the body, `auth` checks the caller. */
  async function receive(
    req: FastifyRequest<{ Params: { appId: string } }>,
    reply: FastifyReply,
    source: WebhookSource,
    auth: (a: ReceiverApp, raw: Buffer) => string | null,
    parse: (body: unknown, receivedAt: Date) => SubscriptionEvent,
  ) {
    const receivedAt = new Date();
    const name = source === 'revenuecat' ? 'RevenueCat' : 'Superwall';
    const appId = req.params.appId;
    const a = appId.length <= 64 ? await receiverApp(sql, appId, source) : null;
    if (!a) return answerError(reply, 404, 'not_found', 'App not found');
    if (!a.enabled)
      return answerError(reply, 404, 'not_found', `${name} webhooks are not enabled for this app`);
    const raw = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const refusal = auth(a, raw);
    if (refusal) return answerError(reply, 401, 'unauthorized', refusal);

    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return answerError(reply, 400, 'invalid_json', 'The body is not JSON');
    }
    let ev: SubscriptionEvent;
    try {
      ev = parse(body, receivedAt);
    } catch (err) {
      if (err instanceof PayloadError)
        return answerError(reply, 400, 'validation_error', err.message);
      throw err;
    }
    let outcome: string;
    try {
      outcome = await writer.submit(
        {
          id: a.id,
          qualifiedTrialsEnabled: a.qualified_trials_enabled,
          qualifiedTrialsDelayHours: Number(a.qualified_trials_delay_hours),
        },
        ev,
        body,
        receivedAt,
      );
    } catch (err) {
      if (!(err instanceof OverloadedError)) throw err;
      reply.header('retry-after', '60');
      return answerError(
        reply,
        503,
        'service_unavailable',
        'Too many webhooks at once; retry later',
      );
    }
    return answerJson(reply, 200, { status: outcome });
  }

  const hidden = { schema: { hide: true } };
  app.post<{ Params: { appId: string } }>('/api/webhook/revenuecat/:appId', hidden, (req, reply) =>
    receive(
      req,
      reply,
      'revenuecat',
      (a) =>
        revenueCatAuthorized(req.headers.authorization, a.secret_hash)
          ? null
          : 'Missing or wrong Authorization header',
      fromRevenueCat,
    ),
  );
  app.post<{ Params: { appId: string } }>('/api/webhook/superwall/:appId', hidden, (req, reply) => {
    const header = (k: string) => {
      const v = req.headers[k];
      return typeof v === 'string' ? v : null;
    };
    const svixId = header('svix-id');
    return receive(
      req,
      reply,
      'superwall',
      (a, raw) => {
        const secret = superwallSecret(config.secretKey, a);
        if (!secret) return 'No Superwall signing secret is set for this app';
        return svixRefusal(
          secret,
          { id: svixId, timestamp: header('svix-timestamp'), signature: header('svix-signature') },
          raw,
        );
      },
      (body, at) => fromSuperwall(body, svixId!, at),
    );
  });

  app.post('/api/cron/qualified-trials', hidden, async (req, reply) => {
    if (!config.cronSecret)
      return answerError(
        reply,
        404,
        'not_found',
        'CRON_SECRET is not set: the server runs this job itself',
      );
    const given = (req.headers.authorization ?? '').replace(/^bearer\s+/i, '');
    if (!safeEqual(given, config.cronSecret))
      return answerError(
        reply,
        401,
        'unauthorized',
        'Missing or wrong Authorization: Bearer $CRON_SECRET',
      );
    return answerJson(reply, 200, { data: await qualifyDueTrials(sql) });
  });
}
