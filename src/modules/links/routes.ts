import { z } from 'zod';
import type { ApiInstance } from '../../http/types.ts';
import { errorResponses } from '../../http/errors.ts';
import { ListOf, PageQuery, single, SingleOf } from '../../http/envelope.ts';
import { seqPage } from '../../http/cursor.ts';
import type { Services } from '../../services.ts';
import { visibleApp } from '../auth/principal.ts';
import { AppIdParams } from '../apps/schemas.ts';
import type { LinkCache } from './cache.ts';
import {
  createLink,
  deleteLink,
  getLink,
  listLinks,
  toLinkResource,
  updateLink,
} from './queries.ts';
import { Link, LinkCreate, LinkUpdate } from './schemas.ts';

const LinkParams = AppIdParams.extend({
  linkId: z.string().max(64).describe('The link id (slug), e.g. fittrack-meta-summer'),
});

/** Links API (docs/spec/api.md): CRUD of an app's tracking links. Every change also refreshes the redirect caches. */
export async function linkRoutes(
  app: ApiInstance,
  { sql, cursors, config }: Services,
  cache: LinkCache,
) {
  const resource = (row: Parameters<typeof toLinkResource>[0]) =>
    toLinkResource(row, config.trackingUrl);

  app.get(
    '/apps/:appId/links',
    {
      schema: {
        tags: ['Links'],
        summary: "List an app's tracking links, newest first",
        params: AppIdParams,
        querystring: z.strictObject({
          ...PageQuery,
          includeArchived: z
            .enum(['true', 'false'])
            .default('false')
            .transform((v) => v === 'true')
            .describe('Also list archived links'),
        }),
        response: { 200: ListOf(Link), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      return seqPage(
        cursors,
        `links:${a.id}:${req.query.includeArchived}`,
        req.query,
        (afterSeq) =>
          listLinks(sql, a.id, {
            limit: req.query.limit,
            afterSeq,
            includeArchived: req.query.includeArchived,
          }),
        resource,
      );
    },
  );

  app.post(
    '/apps/:appId/links',
    {
      schema: {
        tags: ['Links'],
        summary: 'Create a tracking link; 409 when the id is taken',
        params: AppIdParams,
        body: LinkCreate,
        response: {
          201: SingleOf(Link),
          ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429),
        },
      },
    },
    async (req, reply) => {
      const a = await visibleApp(sql, req);
      const row = await createLink(sql, a, req.body);
      cache.invalidateLink(row.id);
      return reply.code(201).send(single(resource(row)));
    },
  );

  app.get(
    '/apps/:appId/links/:linkId',
    {
      schema: {
        tags: ['Links'],
        summary: 'Read a tracking link',
        params: LinkParams,
        response: { 200: SingleOf(Link), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      return single(resource(await getLink(sql, a.id, req.params.linkId)));
    },
  );

  app.patch(
    '/apps/:appId/links/:linkId',
    {
      schema: {
        tags: ['Links'],
        summary: 'Update a tracking link; the change applies to the next click',
        params: LinkParams,
        body: LinkUpdate,
        response: { 200: SingleOf(Link), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const row = await updateLink(sql, a.id, req.params.linkId, req.body);
      cache.invalidateLink(row.id);
      return single(resource(row));
    },
  );

  app.delete(
    '/apps/:appId/links/:linkId',
    {
      schema: {
        tags: ['Links'],
        summary:
          'Delete a tracking link: its click URL answers 404, its clicks and attributions stay, its id stays taken',
        params: LinkParams,
        response: { 204: z.null().describe('Deleted'), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      const a = await visibleApp(sql, req);
      await deleteLink(sql, a.id, req.params.linkId);
      cache.invalidateLink(req.params.linkId);
      return reply.code(204).send(null);
    },
  );
}
