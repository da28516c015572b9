import type { Sql } from '../../db/client.ts';
import type { AppRow } from '../apps/queries.ts';
import type { SkanSchema, SkanSchemaBody } from './schemas.ts';

/** One stored revision of an app's conversion-value schema. */
export type SchemaRevision = { revision: number; schema: SkanSchemaBody; validFrom: Date };

const EMPTY: SkanSchemaBody = { fine: [], coarse: [], lock: [], campaigns: {} };

/** Every revision of an app's schema, oldest first. */
export async function schemaRevisions(sql: Sql, appId: string): Promise<SchemaRevision[]> {
  const rows = await sql<{ revision: number; schema: SkanSchemaBody; valid_from: Date }[]>`
    select revision, schema, valid_from from skan_schema_versions
    where app_id = ${appId} order by revision`;
  return rows.map((r) => ({ revision: r.revision, schema: r.schema, validFrom: r.valid_from }));
}

/** The current revision, or null before the first PUT. */
export async function currentRevision(sql: Sql, appId: string): Promise<SchemaRevision | null> {
  const [r] = await sql<{ revision: number; schema: SkanSchemaBody; valid_from: Date }[]>`
    select revision, schema, valid_from from skan_schema_versions
    where app_id = ${appId} order by revision desc limit 1`;
  return r ? { revision: r.revision, schema: r.schema, validFrom: r.valid_from } : null;
}

/** Stores a new revision (the previous ones stay, for decoding older installs). */
export async function saveRevision(
  sql: Sql,
  appId: string,
  schema: SkanSchemaBody,
): Promise<SchemaRevision> {
  const body = {
    fine: schema.fine,
    coarse: schema.coarse,
    lock: schema.lock,
    campaigns: schema.campaigns,
  };
  // The app row lock serialises concurrent PUTs of one app, so revisions never collide.
  return sql.begin(async (tx) => {
    await tx`select 1 from apps where id = ${appId} for update`;
    const [r] = await tx<{ revision: number; valid_from: Date }[]>`
      insert into skan_schema_versions (app_id, revision, schema)
      select ${appId}, coalesce(max(revision), 0) + 1, ${tx.json(body)}
      from skan_schema_versions where app_id = ${appId}
      returning revision, valid_from`;
    return { revision: r.revision, schema: body, validFrom: r.valid_from };
  }) as Promise<SchemaRevision>;
}

/** The API resource of a revision (an empty revision 0 before the first PUT). */
export function toSchemaResource(
  app: Pick<AppRow, 'currency'>,
  r: SchemaRevision | null,
): SkanSchema {
  const s = r?.schema ?? EMPTY;
  return {
    version: 4,
    revision: r?.revision ?? 0,
    currency: app.currency,
    fine: s.fine,
    coarse: s.coarse,
    lock: s.lock,
    campaigns: s.campaigns,
    updatedAt: r ? r.validFrom.toISOString() : null,
  };
}
