import type { Sql } from '../../db/client.ts';
import type { AppRow } from '../apps/queries.ts';
import { campaignOf, decodeValue, installEstimate, revisionAt } from './decode.ts';
import type { PostbackRow } from './postback.ts';
import type { SchemaRevision } from './schema-store.ts';
import type { SkanPostback, StatsDimension } from './schemas.ts';

/** Postbacks are kept this long (docs/spec/product.md §13). */
export const POSTBACK_RETENTION_DAYS = 90;

/** A stored postback: the row written for it (postback.ts) and its place in the table. */
type StoredPostback = PostbackRow & { seq: string };

/**
 * The postbacks of an app: those whose app id is its App Store id. When several apps name the same
 * App Store id, the postbacks belong to the first created (a second app cannot take them over).
 * An app without an App Store id has none.
 */
const ownedBy = (sql: Sql, a: Pick<AppRow, 'ios_app_store_id' | 'seq'>) => sql`
  p.app_store_id = ${a.ios_app_store_id}
  and not exists (select 1 from apps o where o.ios_app_store_id = ${a.ios_app_store_id} and o.seq < ${a.seq})`;

const receivedOn = (sql: Sql, tz: string, from?: string, to?: string) => sql`
  ${from ? sql`and (p.received_at at time zone ${tz})::date >= ${from}::date` : sql``}
  ${to ? sql`and (p.received_at at time zone ${tz})::date <= ${to}::date` : sql``}`;

export async function listPostbacks(
  sql: Sql,
  a: AppRow,
  q: {
    limit: number;
    afterSeq: string | null;
    verified?: boolean;
    window?: number;
    from?: string;
    to?: string;
  },
): Promise<StoredPostback[]> {
  if (!a.ios_app_store_id) return [];
  return sql<StoredPostback[]>`
    select p.* from skan_postbacks p
    where ${ownedBy(sql, a)}
      ${q.afterSeq ? sql`and p.seq < ${q.afterSeq}` : sql``}
      ${q.verified === undefined ? sql`` : sql`and p.verified = ${q.verified}`}
      ${q.window === undefined ? sql`` : sql`and coalesce(p.window_index, 0) = ${q.window}`}
      ${receivedOn(sql, a.timezone, q.from, q.to)}
    order by p.seq desc
    limit ${q.limit + 1}`;
}

/** Decoding of stored postbacks against an app's schema revisions. */
export function decoderFor(revisions: SchemaRevision[]) {
  // Campaign mappings come from the current revision: they say where an identifier's ads ran,
  // which a later revision may only have learnt. Values decode with the install-time revision.
  const campaigns = revisions.at(-1)?.schema.campaigns ?? {};
  return (
    p: Pick<
      StoredPostback,
      | 'source_identifier'
      | 'campaign_id'
      | 'fine_value'
      | 'coarse_value'
      | 'window_index'
      | 'received_at'
    >,
  ) => ({
    target: campaignOf(campaigns, p.source_identifier, p.campaign_id),
    decoded: decodeValue(revisionAt(revisions, installEstimate(p.received_at, p.window_index)), {
      fine: p.fine_value,
      coarse: p.coarse_value,
      window: p.window_index,
    }),
  });
}

export function toPostbackResource(
  p: StoredPostback,
  decode: ReturnType<typeof decoderFor>,
): SkanPostback {
  const { target, decoded } = decode(p);
  return {
    id: p.id,
    kind: p.kind,
    version: p.version,
    verified: p.verified,
    unverifiedReason: p.unverified_reason,
    sandbox: p.sandbox,
    transactionId: p.dedup_key,
    adNetworkId: p.ad_network_id,
    sourceIdentifier: p.source_identifier,
    campaignId: p.campaign_id,
    network: target?.network ?? null,
    campaign: target?.campaign ?? null,
    sourceAppId: p.source_app_id,
    sourceDomain: p.source_domain,
    redownload: p.redownload,
    fidelityType: p.fidelity_type,
    didWin: p.did_win,
    conversionType: p.conversion_type,
    window: p.window_index,
    fineValue: p.fine_value,
    coarseValue: p.coarse_value,
    countryCode: p.country_code,
    decoded,
    receivedAt: p.received_at.toISOString(),
    raw: p.raw,
  };
}

type StatsInput = Pick<
  StoredPostback,
  | 'source_identifier'
  | 'campaign_id'
  | 'fine_value'
  | 'coarse_value'
  | 'window_index'
  | 'received_at'
  | 'redownload'
  | 'conversion_type'
> & { day: string };

/**
 * SKAN stats (docs/skan.md): live postbacks only (never sandbox, never a losing `did-win: false`),
 * verified ones unless `verified=any`, grouped by the requested dimensions. Separate from click
 * attribution: nothing here reads or writes attributions or the analytics rollups.
 */
export async function skanStats(
  sql: Sql,
  a: AppRow,
  revisions: SchemaRevision[],
  q: { from: string; to: string; groupBy: StatsDimension[]; verifiedOnly: boolean },
) {
  const rows: StatsInput[] = a.ios_app_store_id
    ? await sql<StatsInput[]>`
        select p.source_identifier, p.campaign_id, p.fine_value, p.coarse_value, p.window_index,
               p.received_at, p.redownload, p.conversion_type,
               to_char(p.received_at at time zone ${a.timezone}, 'YYYY-MM-DD') as day
        from skan_postbacks p
        where ${ownedBy(sql, a)}
          and not p.sandbox and p.did_win is not false
          ${q.verifiedOnly ? sql`and p.verified` : sql``}
          ${receivedOn(sql, a.timezone, q.from, q.to)}`
    : [];
  const decode = decoderFor(revisions);
  const groups = new Map<
    string,
    {
      dimensions: Record<string, string | number | null>;
      metrics: {
        postbacks: number;
        installs: number;
        redownloads: number;
        conversions: number;
        revenueMin: number;
        revenueMax: number;
      };
    }
  >();
  for (const p of rows) {
    const { target, decoded } = decode(p);
    const window = p.window_index ?? 0;
    const dims: Record<StatsDimension, string | number | null> = {
      date: p.day,
      network: target?.network ?? null,
      campaign: target?.campaign ?? null,
      sourceIdentifier:
        p.source_identifier ?? (p.campaign_id === null ? null : String(p.campaign_id)),
      window,
      fineValue: p.fine_value,
      coarseValue: p.coarse_value,
    };
    const dimensions = Object.fromEntries(q.groupBy.map((d) => [d, dims[d]]));
    const key = JSON.stringify(dimensions);
    let g = groups.get(key);
    if (!g) {
      g = {
        dimensions,
        metrics: {
          postbacks: 0,
          installs: 0,
          redownloads: 0,
          conversions: 0,
          revenueMin: 0,
          revenueMax: 0,
        },
      };
      groups.set(key, g);
    }
    const m = g.metrics;
    m.postbacks++;
    if (window === 0 && p.conversion_type !== 're-engagement') {
      if (p.redownload) m.redownloads++;
      else m.installs++;
    }
    if (decoded?.events.some((e) => e !== 'install')) m.conversions++;
    m.revenueMin += decoded?.revenueMin ?? 0;
    m.revenueMax += decoded?.revenueMax ?? 0;
  }
  const sortKey = (v: string | number | null) =>
    v === null ? '\uffff' : typeof v === 'number' ? String(v).padStart(4, '0') : v;
  return [...groups.values()]
    .map((g) => ({
      ...g,
      metrics: {
        ...g.metrics,
        revenueMin: Math.round(g.metrics.revenueMin * 100) / 100,
        revenueMax: Math.round(g.metrics.revenueMax * 100) / 100,
      },
    }))
    .sort((x, y) => {
      for (const d of q.groupBy) {
        const a1 = sortKey(x.dimensions[d]);
        const b1 = sortKey(y.dimensions[d]);
        if (a1 !== b1) return a1 < b1 ? -1 : 1;
      }
      return 0;
    });
}

// Any constant unique to this job: only one server process deletes at a time.
const LOCK_KEY = 0x736b6131; // "ska1"
const BATCH = 10_000;

/** Deletes postbacks older than 90 days, in batches. Returns how many went. */
export async function deleteExpiredPostbacks(sql: Sql): Promise<number> {
  const conn = await sql.reserve();
  try {
    const [{ locked }] = await conn<
      { locked: boolean }[]
    >`select pg_try_advisory_lock(${LOCK_KEY}) as locked`;
    if (!locked) return 0;
    try {
      let total = 0;
      for (;;) {
        const deleted = await conn`
          delete from skan_postbacks where id = any(array(
            select id from skan_postbacks
            where received_at < now() - make_interval(days => ${POSTBACK_RETENTION_DAYS}) limit ${BATCH}))`;
        total += deleted.count;
        if (deleted.count < BATCH) return total;
      }
    } finally {
      await conn`select pg_advisory_unlock(${LOCK_KEY})`;
    }
  } finally {
    conn.release();
  }
}
