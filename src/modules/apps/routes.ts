import { z } from 'zod';
import type { ApiInstance } from '../../http/types.ts';
import { errorResponses } from '../../http/errors.ts';
import { ListOf, PageQuery, single, SingleOf } from '../../http/envelope.ts';
import { seqPage } from '../../http/cursor.ts';
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
      return seqPage(
        cursors,
        `apps:${p.orgId}:${req.query.includeArchived}`,
        req.query,
        (afterSeq) =>
          listApps(sql, p.orgId, {
            limit: req.query.limit,
            afterSeq,
            appIds: p.appIds,
            includeArchived: req.query.includeArchived,
          }),
        toAppResource,
      );
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
