import { z } from 'zod';
import type { ApiInstance } from '../../http/types.ts';
import { errorResponses } from '../../http/errors.ts';
import { ListOf, PageQuery, single, SingleOf } from '../../http/envelope.ts';
import { seqPage } from '../../http/cursor.ts';
import type { Services } from '../../services.ts';
import { principalOf } from '../auth/principal.ts';
import { createApiKey, listApiKeys, revokeApiKey, toApiKeyResource } from './keys.ts';

const PermissionEnum = z
  .enum(['full', 'read_only', 'analytics'])
  .describe(
    '`full`: read and write everything; `read_only`: every GET; `analytics`: GET on overview, stats, events, attributions, portfolio and /me',
  );

const ApiKey = z
  .object({
    id: z.string().meta({ example: 'key_8Hk2mQ9xLp3sTz7v' }),
    name: z.string(),
    permission: PermissionEnum,
    appIds: z.array(z.string()).nullable().describe('null: every app of the organization'),
    last4: z.string().describe('The last four characters of the key, to recognise it'),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'ApiKey' });

const ApiKeyCreated = ApiKey.extend({
  key: z
    .string()
    .describe('The full key. Shown only in this response: store it now')
    .meta({ example: 'ak_live_Xb…' }),
}).meta({ id: 'ApiKeyCreated' });

const Me = z
  .object({
    organization: z.object({ id: z.string(), name: z.string() }),
    permission: PermissionEnum,
    appIds: z.array(z.string()).nullable(),
    apiKey: z
      .object({ id: z.string(), name: z.string() })
      .nullable()
      .describe('Set when calling with an API key'),
    user: z
      .object({
        id: z.string(),
        email: z.string(),
        role: z.enum(['owner', 'admin', 'member', 'viewer']),
      })
      .nullable()
      .describe('Set when calling with a dashboard session'),
  })
  .meta({ id: 'Me' });

const sessionOnly = { security: [{ session: [] }] };

export async function apiKeyRoutes(app: ApiInstance, { sql, cursors }: Services) {
  app.get(
    '/api-keys',
    {
      config: { access: 'session' },
      schema: {
        tags: ['API keys'],
        summary: 'List active API keys (session only)',
        ...sessionOnly,
        querystring: z.strictObject(PageQuery),
        response: { 200: ListOf(ApiKey), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      return seqPage(
        cursors,
        `api-keys:${p.orgId}`,
        req.query,
        (afterSeq) =>
          listApiKeys(sql, p.orgId, {
            limit: req.query.limit,
            afterSeq,
          }),
        toApiKeyResource,
      );
    },
  );

  app.post(
    '/api-keys',
    {
      config: { access: 'session' },
      schema: {
        tags: ['API keys'],
        summary: 'Create an API key; the key is shown once (session only)',
        ...sessionOnly,
        body: z.strictObject({
          name: z.string().trim().min(1).max(100),
          permission: PermissionEnum,
          appIds: z
            .array(z.string().max(64))
            .min(1)
            .max(500)
            .nullish()
            .describe('Limit the key to these apps; omit for all apps'),
        }),
        response: { 201: SingleOf(ApiKeyCreated), ...errorResponses(400, 401, 403, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const { key, row } = await createApiKey(sql, {
        orgId: p.orgId,
        name: req.body.name,
        permission: req.body.permission,
        appIds: req.body.appIds ?? null,
        createdBy: p.kind === 'session' ? p.userId : null,
      });
      return reply.code(201).send(single({ ...toApiKeyResource(row), key }));
    },
  );

  app.delete(
    '/api-keys/:keyId',
    {
      config: { access: 'session' },
      schema: {
        tags: ['API keys'],
        summary: 'Revoke an API key; it stops working at once (session only)',
        ...sessionOnly,
        params: z.strictObject({ keyId: z.string().max(64) }),
        response: { 200: SingleOf(ApiKey), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      return single(toApiKeyResource(await revokeApiKey(sql, p.orgId, req.params.keyId)));
    },
  );

  app.get(
    '/me',
    {
      config: { access: 'analytics' },
      schema: {
        tags: ['Identity'],
        summary: 'The caller: organization, key or user, permission',
        response: { 200: SingleOf(Me), ...errorResponses(401, 429) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const [org] = await sql<
        { id: string; name: string }[]
      >`select id, name from organizations where id = ${p.orgId}`;
      return single({
        organization: org,
        permission: p.permission,
        appIds: p.appIds,
        apiKey: p.kind === 'api_key' ? { id: p.keyId, name: p.keyName } : null,
        user: p.kind === 'session' ? { id: p.userId, email: p.email, role: p.role } : null,
      });
    },
  );
}
