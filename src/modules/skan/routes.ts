import type { ApiInstance } from '../../http/types.ts';
import { errorResponses, validationError } from '../../http/errors.ts';
import { single, SingleOf } from '../../http/envelope.ts';
import type { Services } from '../../services.ts';
import { visibleApp } from '../auth/principal.ts';
import { AppIdParams } from '../apps/schemas.ts';
import { currentRevision, saveRevision, toSchemaResource } from './schema-store.ts';
import { SkanSchema, SkanSchemaInput } from './schemas.ts';

const tags = ['SKAN'];

/** SKAN API (docs/spec/api.md, docs/skan.md): the conversion-value schema, postbacks and stats. */
export async function skanRoutes(app: ApiInstance, services: Services) {
  const { sql } = services;

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
}
