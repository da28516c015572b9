import type { ApiInstance } from '../../http/types.ts';
import { errorResponses, validationError } from '../../http/errors.ts';
import { list, ListOf, PageQuery, single, SingleOf } from '../../http/envelope.ts';
import { seqPage } from '../../http/cursor.ts';
import { z } from 'zod';
import { resolvePeriod } from '../analytics/period.ts';
import type { Services } from '../../services.ts';
import { visibleApp } from '../auth/principal.ts';
import { AppIdParams } from '../apps/schemas.ts';
import { decoderFor, listPostbacks, skanStats, toPostbackResource } from './queries.ts';
import {
  currentRevision,
  saveRevision,
  schemaRevisions,
  toSchemaResource,
} from './schema-store.ts';
import {
  PostbackQuery,
  SkanPostback,
  SkanSchema,
  SkanSchemaInput,
  StatsQuery,
  StatsRow,
} from './schemas.ts';

const analyticsAccess = { access: 'analytics' as const };
const ACCESS_NOTE =
  'Readable with full, read_only and analytics keys and dashboard sessions; a key limited to some apps sees the others as 404.';
const OWNERSHIP =
  "An app's postbacks are those whose app id (`app-id`, `advertised-item-identifier`) is its `ios.appStoreId`; postbacks received before the app existed appear once it does.";

const tags = ['SKAN'];

/** SKAN API (docs/spec/api.md, docs/skan.md): the conversion-value schema, postbacks and stats. */
export async function skanRoutes(app: ApiInstance, services: Services) {
  const { sql, cursors } = services;

  app.get(
    '/apps/:appId/skan',
    {
      schema: {
        tags,
        summary:
          "Read the app's SKAN conversion-value schema (revision 0 and empty before the first PUT)",
        params: AppIdParams,
        response: { 200: SingleOf(SkanSchema), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      return single(toSchemaResource(a, await currentRevision(sql, a.id)));
    },
  );

  app.put(
    '/apps/:appId/skan',
    {
      schema: {
        tags,
        summary:
          'Replace the SKAN conversion-value schema; earlier revisions are kept to decode postbacks of earlier installs',
        params: AppIdParams,
        body: SkanSchemaInput,
        response: {
          200: SingleOf(SkanSchema),
          ...errorResponses(400, 401, 403, 404, 413, 415, 429),
        },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      if (req.body.currency !== undefined && req.body.currency !== a.currency)
        throw validationError(
          'currency',
          `revenue bounds are in the app's currency, ${a.currency}; change the app's currency first`,
        );
      return single(toSchemaResource(a, await saveRevision(sql, a.id, req.body)));
    },
  );

  app.get(
    '/apps/:appId/skan/postbacks',
    {
      config: analyticsAccess,
      schema: {
        tags,
        summary: 'List received SKAN / AdAttributionKit postbacks, newest first, decoded',
        description: `${ACCESS_NOTE} ${OWNERSHIP} Sandbox (test) postbacks are listed with \`sandbox: true\`. \`decoded\` is the value read with the schema revision in force at the estimated install time; \`network\`/\`campaign\` come from the current schema's \`campaigns\`. Postbacks are kept 90 days.`,
        params: AppIdParams,
        querystring: z.strictObject({ ...PageQuery, ...PostbackQuery }),
        response: { 200: ListOf(SkanPostback), ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const q = req.query;
      const decode = decoderFor(await schemaRevisions(sql, a.id));
      return seqPage(
        cursors,
        `skan-postbacks:${a.id}:${q.verified}:${q.window}:${q.from}:${q.to}`,
        q,
        (afterSeq) =>
          listPostbacks(sql, a, {
            limit: q.limit,
            afterSeq,
            verified: q.verified,
            window: q.window,
            from: q.from,
            to: q.to,
          }),
        (r) => toPostbackResource(r, decode),
      );
    },
  );

  app.get(
    '/apps/:appId/skan/stats',
    {
      config: analyticsAccess,
      schema: {
        tags,
        summary:
          'Aggregated SKAN results, grouped by dimensions (never mixed with click attribution)',
        description: `${ACCESS_NOTE} ${OWNERSHIP} Days are received days in the app's time zone (default: the last 7). Live postbacks only: sandbox ones (source app id 0, development keys) and losing ones (\`did-win: false\`) never count; verified ones only unless \`verified=any\`. Revenue is in the app's currency. One page: every group.`,
        params: AppIdParams,
        querystring: StatsQuery,
        response: { 200: ListOf(StatsRow), ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (req) => {
      const a = await visibleApp(sql, req);
      const period = resolvePeriod(req.query, a.timezone);
      const rows = await skanStats(sql, a, await schemaRevisions(sql, a.id), {
        ...period,
        groupBy: [...new Set(req.query.groupBy ?? ['date' as const])],
        verifiedOnly: req.query.verified === 'true',
      });
      return list(rows, null);
    },
  );
}
