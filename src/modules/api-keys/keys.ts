import type { Sql } from '../../db/client.ts';
import { newId, randomBase62, sha256 } from '../../lib/crypto.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import type { Permission } from '../auth/principal.ts';

/** Management API keys: `ak_live_` + 40 base62 characters (~238 bits). Only a SHA-256 is kept. */
export type ApiKeyRow = {
  id: string;
  seq: string;
  org_id: string;
  name: string;
  permission: Permission;
  app_ids: string[] | null;
  key_last4: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
};

export function toApiKeyResource(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    permission: k.permission,
    appIds: k.app_ids,
    last4: k.key_last4,
    createdAt: k.created_at.toISOString(),
    lastUsedAt: k.last_used_at?.toISOString() ?? null,
    revokedAt: k.revoked_at?.toISOString() ?? null,
  };
}

export async function createApiKey(
  sql: Sql,
  input: {
    orgId: string;
    name: string;
    permission: Permission;
    appIds: string[] | null;
    createdBy: string | null;
  },
) {
  if (input.appIds) {
    const unique = [...new Set(input.appIds)];
    const found = await sql<
      { id: string }[]
    >`select id from apps where org_id = ${input.orgId} and id = any(${unique})`;
    const known = new Set(found.map((r) => r.id));
    const missing = unique.findIndex((id) => !known.has(id));
    if (missing >= 0) {
      throw new ApiError(
        400,
        'validation_error',
        `appIds: no app ${unique[missing]} in this organization`,
        [
          {
            path: `appIds.${input.appIds.indexOf(unique[missing])}`,
            message: 'no such app in this organization',
          },
        ],
      );
    }
    input = { ...input, appIds: unique };
  }
  const key = `ak_live_${randomBase62(40)}`;
  const [row] = await sql<ApiKeyRow[]>`
    insert into api_keys (id, org_id, name, permission, app_ids, key_hash, key_last4, created_by)
    values (${newId('key')}, ${input.orgId}, ${input.name}, ${input.permission}, ${input.appIds}, ${sha256(key)}, ${key.slice(-4)}, ${input.createdBy})
    returning *`;
  return { key, row };
}

export async function listApiKeys(
  sql: Sql,
  orgId: string,
  opts: { limit: number; afterSeq: string | null },
) {
  return sql<ApiKeyRow[]>`
    select * from api_keys
    where org_id = ${orgId} and revoked_at is null ${opts.afterSeq ? sql`and seq < ${opts.afterSeq}` : sql``}
    order by seq desc limit ${opts.limit + 1}`;
}

export async function revokeApiKey(sql: Sql, orgId: string, keyId: string) {
  const [row] = await sql<ApiKeyRow[]>`
    update api_keys set revoked_at = coalesce(revoked_at, now())
    where id = ${keyId} and org_id = ${orgId} returning *`;
  if (!row) throw notFound('API key');
  return row;
}
