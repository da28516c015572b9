import { z } from 'zod';
import type { ApiInstance } from '../../http/types.ts';
import { conflict, errorResponses, notFound } from '../../http/errors.ts';
import { ListOf, PageQuery, single, SingleOf } from '../../http/envelope.ts';
import { seqPage } from '../../http/cursor.ts';
import type { Services } from '../../services.ts';
import { endOf, Instant } from '../../http/instant.ts';
import { visibleApp } from '../auth/principal.ts';
import { AppIdParams } from '../apps/schemas.ts';
import { getDelivery, listDeliveries, retryDelivery, toDeliveryResource } from './deliveries.ts';
import { NETWORKS, type Network } from './networks.ts';
import {
  Delivery,
  DeliveryStatus,
  GoogleIntegration,
  GooglePatch,
  GoogleSettingsPatch,
  MetaSettingsPatch,
  TiktokSettingsPatch,
  Integrations,
  MetaIntegration,
  MetaPatch,
  TiktokIntegration,
  TiktokPatch,
} from './schemas.ts';
import { testConnection } from './connection-test.ts';
import { webhookConnected, webhookResources } from '../webhooks/settings.ts';
import {
  credentialsOf,
  getIntegration,
  listIntegrations,
  patchIntegration,
  toIntegrationResource,
} from './store.ts';

const DeliveryQuery = z.strictObject({
  ...PageQuery,
  network: z.enum(NETWORKS).optional(),
  status: DeliveryStatus.optional(),
  eventId: z.string().max(64).optional().describe('The event (evt_…) the deliveries are for'),
  from: Instant.optional().describe('Created at or after (a day: from its start, UTC)'),
  to: Instant.optional().describe('Created at or before (a day: to its end, UTC)'),
});
const DeliveryParams = AppIdParams.extend({ deliveryId: z.string().max(64) });

const PER_NETWORK = [
  {
    network: 'meta',
    name: 'Meta Conversions API',
    resource: MetaIntegration,
    patch: MetaPatch,
    settings: MetaSettingsPatch,
    test: 'reads the dataset (GET /{datasetId}) and, with a testEventCode, posts one test event',
  },
  {
    network: 'google',
    name: 'Google Ads',
    resource: GoogleIntegration,
    patch: GooglePatch,
    settings: GoogleSettingsPatch,
    test: 'refreshes the OAuth token, lists accessible customers and validates an upload (validateOnly)',
  },
  {
    network: 'tiktok',
    name: 'TikTok Events API',
    resource: TiktokIntegration,
    patch: TiktokPatch,
    settings: TiktokSettingsPatch,
    test: 'posts one event under the testEventCode (TikTok has no validate-only call)',
  },
] as const;

const TestResultSchema = z
  .object({
    ok: z.boolean(),
    httpStatus: z
      .number()
      .int()
      .nullable()
      .describe("The network's HTTP status; null without an answer"),
    message: z.string().describe("What was checked, or the network's own error message"),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'IntegrationTestResult' });

/** Integrations API (docs/spec/api.md "Integrations"); forwarding is described in docs/forwarding.md. */
export async function integrationRoutes(app: ApiInstance, { sql, cursors, config }: Services) {
  app.get(
    '/apps/:appId/integrations',
    {
      schema: {
        tags: ['Integrations'],
        summary:
          "An app's ad-network integrations and subscription webhooks (secrets shown as {set, last4})",
        params: AppIdParams,
        response: { 200: SingleOf(Integrations), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const [rows, hooks] = await Promise.all([
        listIntegrations(sql, a.id),
        webhookResources(sql, config, a.id),
      ]);
      const connected = hooks.revenuecat.enabled || hooks.superwall.enabled;
      return single({
        meta: toIntegrationResource(rows.meta, connected),
        google: toIntegrationResource(rows.google, connected),
        tiktok: toIntegrationResource(rows.tiktok, connected),
        ...hooks,
      } as never);
    },
  );

  for (const { network, name, resource, patch, settings, test } of PER_NETWORK) {
    app.post(
      `/apps/:appId/integrations/${network}/test`,
      {
        schema: {
          tags: ['Integrations'],
          summary: `Test the ${name} connection: ${test}; records no conversion. Candidate settings in the body are laid over the stored ones and not saved`,
          params: AppIdParams,
          body: z.strictObject({ settings: settings.optional() }).nullish(),
          response: {
            200: SingleOf(TestResultSchema),
            ...errorResponses(400, 401, 403, 404, 413, 415, 429),
          },
        },
      },
      async (req) => {
        const a = await visibleApp(sql, req);
        const row = await getIntegration(sql, a.id, network);
        const creds = credentialsOf(row, config.secretKey);
        for (const [k, v] of Object.entries(req.body?.settings ?? {})) {
          if (v === undefined) continue;
          if (v === null) delete creds[k];
          else (creds as Record<string, unknown>)[k] = v;
        }
        return single(await testConnection(config, network as Network, creds));
      },
    );

    app.get(
      `/apps/:appId/integrations/${network}`,
      {
        schema: {
          tags: ['Integrations'],
          summary: `Read the ${name} integration`,
          params: AppIdParams,
          response: { 200: SingleOf(resource), ...errorResponses(400, 401, 403, 404, 429) },
        },
      },
      async (req) => {
        const a = await visibleApp(sql, req);
        const row = await getIntegration(sql, a.id, network);
        return single(toIntegrationResource(row, await webhookConnected(sql, a.id)) as never);
      },
    );
    app.patch(
      `/apps/:appId/integrations/${network}`,
      {
        schema: {
          tags: ['Integrations'],
          summary: `Update the ${name} integration: fields merge, null clears one; new credentials resume a paused (unauthorized) integration`,
          params: AppIdParams,
          body: patch,
          response: {
            200: SingleOf(resource),
            ...errorResponses(400, 401, 403, 404, 413, 415, 429),
          },
        },
      },
      async (req) => {
        const a = await visibleApp(sql, req);
        const row = await patchIntegration(
          sql,
          config.secretKey,
          a.id,
          network as Network,
          req.body as never,
        );
        return single(toIntegrationResource(row, await webhookConnected(sql, a.id)) as never);
      },
    );
  }

  app.get(
    '/apps/:appId/integrations/deliveries',
    {
      schema: {
        tags: ['Integrations'],
        summary: 'The forwarding audit log: one delivery per event and network, newest first',
        params: AppIdParams,
        querystring: DeliveryQuery,
        response: { 200: ListOf(Delivery), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const q = req.query;
      return seqPage(
        cursors,
        `deliveries:${a.id}:${JSON.stringify([q.network, q.status, q.eventId, q.from, q.to])}`,
        q,
        (afterSeq) =>
          listDeliveries(sql, a.id, {
            limit: q.limit,
            afterSeq,
            network: q.network ?? null,
            status: q.status ?? null,
            eventId: q.eventId ?? null,
            from: q.from ? new Date(q.from) : null,
            to: q.to ? endOf(q.to) : null,
          }),
        toDeliveryResource,
      );
    },
  );

  app.post(
    '/apps/:appId/integrations/deliveries/:deliveryId/retry',
    {
      schema: {
        tags: ['Integrations'],
        summary:
          'Send a failed or skipped delivery again, with the same forward id; 409 when it cannot be sent (sandbox, no click id, unmapped, already delivered)',
        params: DeliveryParams,
        response: { 200: SingleOf(Delivery), ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const d = await getDelivery(sql, a.id, req.params.deliveryId);
      if (!d) throw notFound('Delivery');
      const r = await retryDelivery(sql, d);
      if (typeof r === 'string') throw conflict(r);
      return single(toDeliveryResource(r));
    },
  );
}
