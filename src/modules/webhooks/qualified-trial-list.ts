/** The qualified-trials list (GET /apps/{appId}/qualified-trials): keyset on seq, newest first. */
import type { Sql } from '../../db/client.ts';

export type QualifiedTrialRow = {
  seq: string;
  id: string;
  device_id: string | null;
  user_id: string | null;
  product_id: string | null;
  source: 'revenuecat' | 'superwall';
  environment: 'live' | 'sandbox';
  status: 'held' | 'qualified' | 'disqualified' | 'forwarded';
  started_at: Date;
  due_at: Date;
  decided_at: Date | null;
  reason: string | null;
  trial_event_id: string;
  qualified_event_id: string | null;
  network: string | null;
  campaign: string | null;
};

export async function listQualifiedTrials(
  sql: Sql,
  appId: string,
  f: {
    limit: number;
    afterSeq: string | null;
    status: string | null;
    environment: string;
    from: Date | null;
    to: Date | null;
  },
): Promise<QualifiedTrialRow[]> {
  return sql<QualifiedTrialRow[]>`
    select q.*, a.network, a.campaign
    from qualified_trials q
    left join attributions a on a.device_pk = q.device_pk
    where q.app_id = ${appId} and q.environment = ${f.environment}
      ${f.afterSeq ? sql`and q.seq < ${f.afterSeq}` : sql``}
      ${f.status ? sql`and q.status = ${f.status}` : sql``}
      ${f.from ? sql`and q.started_at >= ${f.from}` : sql``}
      ${f.to ? sql`and q.started_at <= ${f.to}` : sql``}
    order by q.seq desc
    limit ${f.limit + 1}`;
}

export function toQualifiedTrialResource(r: QualifiedTrialRow) {
  return {
    id: r.id,
    deviceId: r.device_id,
    userId: r.user_id,
    productId: r.product_id,
    source: r.source,
    environment: r.environment,
    status: r.status,
    startedAt: r.started_at.toISOString(),
    dueAt: r.due_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? null,
    reason: r.reason,
    trialEventId: r.trial_event_id,
    qualifiedEventId: r.qualified_event_id,
    attribution: { network: r.network, campaign: r.campaign },
  };
}
