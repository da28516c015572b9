/**
 * Clicks answered but not yet written when their install's configure came (issue 10, defect 9).
 * configure waits briefly for such a click (engine.ts `loadCandidates`); when it is still missing,
 * the install is stored with what the rest of the waterfall found, and a `late_click` job (src/jobs.ts),
 * queued in the same transaction, looks for the click again a few times. Once it is there and
 * passes the click-id rule, the attribution is updated in place (same id; the analytics triggers
 * move the install and its events), exactly as if the click had been found at once. The SDK
 * already has its answer; the platform's record (reports, forwarding) gets the click's ids.
 */
import type { TransactionSql } from 'postgres';
import type { Sql } from '../../db/client.ts';
import { enqueueJob } from '../../queue/enqueue.ts';
import type { JobContext } from '../../queue/job.ts';
import { clickIdTime } from '../clicks/click-id.ts';
import { resolveInstall } from './engine.ts';
import type { AttributionSettings, Environment, InstallSignals } from './waterfall.ts';

export const LATE_CLICK_TASK = 'late_click';
/** Delays of the re-reads after the install; clicks older than the last one are not waited for. */
const RECHECK_DELAYS_MS = [2_000, 5_000, 15_000, 60_000, 5 * 60_000];
/** A click id issued this long before the install and still not stored is not coming. */
export const LATE_CLICK_RECHECK_AGE_MS = 10 * 60_000;

type Tx = Sql | TransactionSql<Record<string, never>>;

export type LateClickPayload = {
  attributionId: string;
  appId: string;
  environment: Environment;
  /** Only what the click-id rule reads: no IP, no advertising ids. */
  signals: Pick<
    InstallSignals,
    'platform' | 'osVersion' | 'language' | 'clickIds' | 'referrerClickTs' | 'referrerInstallTs'
  >;
  settings: AttributionSettings;
  attempt: number;
};

/** Queues the first re-read, in the transaction that stores the install. */
export async function enqueueLateClickCheck(
  tx: Tx,
  p: Omit<LateClickPayload, 'attempt'>,
  installedAt: Date,
): Promise<void> {
  await queue(tx, { ...p, attempt: 0 }, installedAt);
}

const queue = (tx: Tx, p: LateClickPayload, installedAt: Date) =>
  enqueueJob(tx, LATE_CLICK_TASK, p as never, {
    runAt: new Date(installedAt.getTime() + RECHECK_DELAYS_MS[p.attempt]),
    jobKey: `late_click:${p.attributionId}`,
  });

type Row = {
  status: string;
  click_id: string | null;
  network: string;
  match_type: string;
  installed_at: Date;
};

/** The `late_click` job: one re-read of the install's click ids. */
export async function lateClickJob(payload: unknown, { services, log }: JobContext): Promise<void> {
  const { sql, config } = services;
  const p = payload as LateClickPayload;
  const [a] = await sql<Row[]>`
    select status, click_id, network, match_type, installed_at from attributions where id = ${p.attributionId}`;
  // Gone, credited to a click meanwhile, or waiting for Apple (that job re-reads the clicks itself).
  if (!a || a.click_id || a.status !== 'resolved') return;
  const signals: InstallSignals = {
    ...p.signals,
    ip: null,
    idfa: null,
    gaid: null,
    referrer: null,
    hasAsaToken: false,
  };
  const r = await resolveInstall(
    sql,
    {
      appId: p.appId,
      environment: p.environment,
      settings: { ...p.settings, probabilisticEnabled: false },
      signals,
      asaToken: null,
      at: a.installed_at,
    },
    { appleUrl: config.appleAdServicesUrl, appleTimeoutMs: 0 },
  );
  if (r.fields.match_type !== 'click_id') {
    const missing = r.explanation.considered.some((c) => c.outcome === 'not_found');
    const next = p.attempt + 1;
    const young = p.signals.clickIds.some((id) => {
      const t = clickIdTime(id);
      return t !== null && a.installed_at.getTime() - t <= LATE_CLICK_RECHECK_AGE_MS;
    });
    if (missing && young && next < RECHECK_DELAYS_MS.length)
      await queue(sql, { ...p, attempt: next }, a.installed_at);
    else
      log.info(
        { attributionId: p.attributionId, considered: r.explanation.considered },
        'late click: not found; the install keeps its attribution',
      );
    return;
  }
  const f = r.fields;
  const updated = await sql`
    update attributions set
      network = ${f.network}, match_type = ${f.match_type}, campaign = ${f.campaign}, campaign_id = ${f.campaign_id},
      campaign_name = ${f.campaign_name}, ad_group_id = ${f.ad_group_id}, ad_group_name = ${f.ad_group_name}, ad_id = ${f.ad_id},
      keyword = ${f.keyword}, link_id = ${f.link_id}, click_id = ${f.click_id}, fbclid = ${f.fbclid}, gclid = ${f.gclid},
      ttclid = ${f.ttclid}, query_params = ${sql.json(f.query_params)}, custom_data = ${sql.json(f.custom_data)},
      clicked_at = ${f.clicked_at}, country = coalesce(${f.country}, country),
      explanation = ${sql.json({ ...r.explanation, lateClick: { attempt: p.attempt, replaced: { network: a.network, matchType: a.match_type } } } as never)},
      updated_at = now()
    where id = ${p.attributionId} and status = 'resolved' and click_id is null`;
  if (updated.count)
    log.info(
      { attributionId: p.attributionId, clickId: f.click_id, replaced: a.match_type },
      'late click: install credited to its click',
    );
}
