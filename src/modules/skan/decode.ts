/**
 * Postback → campaign and meaning (docs/skan.md): the network and campaign through the schema's
 * `campaigns`, and the fine or coarse value decoded with the schema revision in force when the
 * install happened.
 */
import type { SchemaRevision } from './schema-store.ts';
import type { Condition, SkanSchemaBody } from './schemas.ts';

const DAY_MS = 86_400_000;
/**
 * How long before its arrival a postback's install happened, by window (SKAdNetwork 4 timing,
 * docs/spec/external-apis.md §7.2): the window's end (day 2, 7, 35 after first launch) plus the middle of
 * Apple's random delay (24–48 h for the first postback, 24–144 h for the others). An estimate:
 * Apple tells no install time; a window closed early by a lock arrives sooner.
 */
export const INSTALL_OFFSET_DAYS = [2 + 1.5, 7 + 3.5, 35 + 3.5] as const;

export const installEstimate = (receivedAt: Date, window: number | null): Date =>
  new Date(receivedAt.getTime() - INSTALL_OFFSET_DAYS[window ?? 0] * DAY_MS);

/**
 * The revision in force at `t`: the last one saved at or before it. An install before the first
 * revision decodes with the first (the app could only have set values from that mapping or none).
 */
export function revisionAt(revisions: SchemaRevision[], t: Date): SchemaRevision | null {
  let found: SchemaRevision | null = null;
  for (const r of revisions) if (r.validFrom.getTime() <= t.getTime()) found = r;
  return found ?? revisions[0] ?? null;
}

/**
 * Network and campaign of a postback: the longest prefix (4, 3, then 2 digits) of its
 * `source-identifier` that the schema's `campaigns` name, else its legacy `campaign-id`.
 */
export function campaignOf(
  campaigns: SkanSchemaBody['campaigns'],
  sourceIdentifier: string | null,
  campaignId: number | null,
): { network: string; campaign: string | null } | null {
  if (sourceIdentifier && /^\d{2,4}$/.test(sourceIdentifier)) {
    for (let n = Math.min(4, sourceIdentifier.length); n >= 2; n--) {
      const hit = campaigns[sourceIdentifier.slice(0, n)];
      if (hit) return { network: hit.network, campaign: hit.campaign ?? null };
    }
  }
  if (campaignId !== null) {
    const hit = campaigns[String(campaignId)];
    if (hit) return { network: hit.network, campaign: hit.campaign ?? null };
  }
  return null;
}

export type Decoded = {
  events: string[];
  revenueMin: number | null;
  revenueMax: number | null;
  schemaRevision: number | null;
};

/** The revenue range of rules taken together: null where a bound is missing on any of them. */
function rangeOf(conds: Condition[]): { revenueMin: number | null; revenueMax: number | null } {
  const bounded = conds.filter((c) => c.revenueMin !== undefined || c.revenueMax !== undefined);
  if (!bounded.length) return { revenueMin: null, revenueMax: null };
  return {
    revenueMin: Math.min(...conds.map((c) => c.revenueMin ?? 0)),
    revenueMax: conds.every((c) => c.revenueMax !== undefined)
      ? Math.max(...conds.map((c) => c.revenueMax as number))
      : null,
  };
}

/**
 * What a value means under a revision: the events of the rules with that value (fine: the one
 * rule, unique by validation; coarse: every rule of the postback's window with that value) and
 * their revenue range. Null without a value or without a schema.
 */
export function decodeValue(
  rev: SchemaRevision | null,
  p: { fine: number | null; coarse: string | null; window: number | null },
): Decoded | null {
  if (!rev || (p.fine === null && p.coarse === null)) return null;
  const conds =
    p.fine !== null
      ? rev.schema.fine.filter((r) => r.value === p.fine).map((r) => r.when)
      : rev.schema.coarse
          .filter((r) => r.window === (p.window ?? 0) && r.value === p.coarse)
          .map((r) => r.when);
  return {
    events: [...new Set(conds.map((c) => c.event))],
    ...rangeOf(conds),
    schemaRevision: rev.revision,
  };
}
