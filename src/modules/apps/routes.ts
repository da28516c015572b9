import { z } from 'zod';
import type { ApiInstance } from '../../http/types.ts';
import { errorResponses } from '../../http/errors.ts';
import { list, ListOf, PageQuery, single, SingleOf } from '../../http/envelope.ts';
import { page } from '../../http/cursor.ts';
import type { Services } from '../../services.ts';
import { assertAppVisible, principalOf } from '../auth/principal.ts';
import { App, AppCreate, AppIdParams, AppUpdate } from './schemas.ts';
import { createApp, getApp, listApps, toAppResource, updateApp } from './queries.ts';

export async function appRoutes(app: ApiInstance, { sql, cursors }: Services) {
  app.get(
    '/apps',
    {
      schema: {
        tags: ['Apps'],
        summary: 'List apps, newest first',
        querystring: z.strictObject({
          ...PageQuery,
          includeArchived: z
            .enum(['true', 'false'])
            .default('false')
            .transform((v) => v === 'true')
            .describe('Also list archived apps'),
        }),
        response: { 200: ListOf(App), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const scope = `apps:${p.orgId}:${req.query.includeArchived}`;
      const after = cursors.decode(scope, req.query.cursor);
      const rows = await listApps(sql, p.orgId, {
        limit: req.query.limit,
        afterSeq: after ? String(after[0]) : null,
        appIds: p.appIds,
        includeArchived: req.query.includeArchived,
      });
      const { items, cursor } = page(
        rows,
        req.query.limit,
        (r) => [r.seq],
        (k) => cursors.encode(scope, k),
      );
      return list(items.map(toAppResource), cursor);
    },
  );

  app.post(
    '/apps',
    {
      schema: {
        tags: ['Apps'],
        summary: 'Create an app; its live and test SDK keys are generated',
        body: AppCreate,
        response: { 201: SingleOf(App), ...errorResponses(400, 401, 403, 409, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const row = await createApp(sql, p.orgId, req.body);
      return reply.code(201).send(single(toAppResource(row)));
    },
  );

  app.get(
    '/apps/:appId',
    {
      schema: {
        tags: ['Apps'],
        summary: 'Read an app',
        params: AppIdParams,
        response: { 200: SingleOf(App), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      assertAppVisible(p, req.params.appId);
      return single(toAppResource(await getApp(sql, p.orgId, req.params.appId)));
    },
  );

  app.patch(
    '/apps/:appId',
    {
      schema: {
        tags: ['Apps'],
        summary: 'Update an app; `{"archived": true}` archives it',
        params: AppIdParams,
        body: AppUpdate,
        response: { 200: SingleOf(App), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      assertAppVisible(p, req.params.appId);
      return single(toAppResource(await updateApp(sql, p.orgId, req.params.appId, req.body)));
    },
  );
}
