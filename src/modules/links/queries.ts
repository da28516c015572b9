import type { Sql } from '../../db/client.ts';
import { randomBase62 } from '../../lib/crypto.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import type { Network } from './vocabulary.ts';
import { generateLinkId, PARAMETER_TEMPLATES } from './templates.ts';
import type { LinkCreateInput, LinkResource, LinkUpdateInput } from './schemas.ts';

/** NOTIFY channel carrying the id of a link that was created, changed or deleted. */
export const LINK_CHANGED_CHANNEL = 'apprefer_link_changed';

export type LinkRow = {
  id: string;
  seq: string;
  app_id: string;
  name: string;
  network: Network;
  campaign_name: string | null;
  destination_ios: string | null;
  destination_android: string | null;
  destination_web: string | null;
  custom_data: Record<string, string>;
  archived_at: Date | null;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
};

export function toLinkResource(l: LinkRow, trackingUrl: string): LinkResource {
  return {
    id: l.id,
    appId: l.app_id,
    name: l.name,
    network: l.network,
    campaignName: l.campaign_name,
    destinations: {
      ios: l.destination_ios,
      android: l.destination_android,
      web: l.destination_web,
    },
    customData: l.custom_data,
    urls: {
      click: `${trackingUrl}/api/c/${l.id}`,
      landing: `${trackingUrl}/g/${l.id}`,
      parameters: PARAMETER_TEMPLATES[l.network],
    },
    archived: l.archived_at !== null,
    createdAt: l.created_at.toISOString(),
    updatedAt: l.updated_at.toISOString(),
  };
}

/** A live (not deleted) link of the app, or a 404. The caller has checked the app belongs to the org. */
export async function getLink(sql: Sql, appId: string, linkId: string): Promise<LinkRow> {
  const [row] = await sql<
    LinkRow[]
  >`select * from links where id = ${linkId} and app_id = ${appId} and deleted_at is null`;
  if (!row) throw notFound('Link');
  return row;
}

export async function listLinks(
  sql: Sql,
  appId: string,
  opts: { limit: number; afterSeq: string | null; includeArchived: boolean },
) {
  return sql<LinkRow[]>`
    select * from links
    where app_id = ${appId} and deleted_at is null
      ${opts.afterSeq ? sql`and seq < ${opts.afterSeq}` : sql``}
      ${opts.includeArchived ? sql`` : sql`and archived_at is null`}
    order by seq desc
    limit ${opts.limit + 1}`;
}

const isUniqueViolation = (e: unknown) => (e as { code?: string }).code === '23505';

export async function createLink(
  sql: Sql,
  app: { id: string; name: string },
  input: LinkCreateInput,
): Promise<LinkRow> {
  for (let attempt = 0; ; attempt++) {
    const id = input.id ?? generateLinkId(app.name, input.network, randomBase62(6).toLowerCase());
    const d = input.destinations ?? {};
    try {
      const [row] = await sql<LinkRow[]>`
        insert into links (id, app_id, name, network, campaign_name, destination_ios, destination_android, destination_web, custom_data)
        values (${id}, ${app.id}, ${input.name ?? id}, ${input.network}, ${input.campaignName ?? null},
                ${d.ios ?? null}, ${d.android ?? null}, ${d.web ?? null}, ${sql.json(input.customData ?? {})})
        returning *`;
      // A click that missed this id moments ago is cached as "no such link": drop that everywhere.
      await sql.notify(LINK_CHANGED_CHANNEL, id);
      return row;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      if (input.id) throw conflictOnId(input.id);
      if (attempt >= 5) throw e;
    }
  }
}

const conflictOnId = (id: string) =>
  new ApiError(
    409,
    'conflict',
    `id: "${id}" is already taken (link ids are unique in the instance, deleted links included)`,
    [{ path: 'id', message: 'taken' }],
  );

export async function updateLink(
  sql: Sql,
  appId: string,
  linkId: string,
  input: LinkUpdateInput,
): Promise<LinkRow> {
  const set: Record<string, unknown> = { updated_at: new Date() };
  if (input.name !== undefined) set.name = input.name;
  if (input.network !== undefined) set.network = input.network;
  if (input.campaignName !== undefined) set.campaign_name = input.campaignName;
  const d = input.destinations;
  if (d?.ios !== undefined) set.destination_ios = d.ios;
  if (d?.android !== undefined) set.destination_android = d.android;
  if (d?.web !== undefined) set.destination_web = d.web;
  if (input.customData !== undefined) set.custom_data = input.customData; // postgres.js sends objects as JSON
  const archive =
    input.archived === undefined
      ? sql``
      : input.archived
        ? sql`, archived_at = coalesce(archived_at, now())`
        : sql`, archived_at = null`;
  const [row] = await sql<LinkRow[]>`
    update links set ${sql(set)} ${archive}
    where id = ${linkId} and app_id = ${appId} and deleted_at is null
    returning *`;
  if (!row) throw notFound('Link');
  await sql.notify(LINK_CHANGED_CHANNEL, linkId);
  return row;
}

/** Soft delete: clicks and attributions keep referring to it, the id stays taken, the URL answers 404. */
export async function deleteLink(sql: Sql, appId: string, linkId: string): Promise<void> {
  const [row] = await sql`
    update links set deleted_at = now(), updated_at = now()
    where id = ${linkId} and app_id = ${appId} and deleted_at is null
    returning id`;
  if (!row) throw notFound('Link');
  await sql.notify(LINK_CHANGED_CHANNEL, linkId);
}
