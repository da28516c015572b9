/**
 * Apple Search Ads attributions that Apple did not settle inside the configure request. The
 * lookup's state (token, signals, attempts) is a row of `asa_resolutions`; each attempt is a job
 * (`asa_resolve`, src/jobs.ts) on the durable queue, queued in the same transaction as the pending
 * attribution and re-queued for the next attempt. It survives restarts and is shared by all server
 * processes; one job key per attribution keeps attempts from overlapping.
 *
 * Schedule (docs/spec/external-apis.md §6.3): on 404 two more calls 5 s apart (Apple's advice), otherwise and
 * after that back off 1 min, 5 min, 30 min, 2 h, 6 h; give up 24 h after the token was received.
 */
import type { TransactionSql } from 'postgres';
import type { Sql } from '../../db/client.ts';
import { enqueueJob } from '../../queue/enqueue.ts';
import type { JobContext } from '../../queue/job.ts';
import { callAdServices, type AdServicesAnswer } from './adservices.ts';
import { resolveAfterApple } from './engine.ts';
import type {
  AsaOutcome,
  AttributionSettings,
  Decision,
  Environment,
  InstallSignals,
} from './waterfall.ts';

export const ASA_RESOLVE_TASK = 'asa_resolve';
export const ASA_TOKEN_LIFETIME_MS = 24 * 3600_000;
const NOT_FOUND_RETRY_MS = 5_000;
const NOT_FOUND_FAST_RETRIES = 3;
const BACKOFF_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3600_000, 6 * 3600_000];
const CALL_TIMEOUT_MS = 10_000;
/** Database errors only: Apple's own failures follow the schedule above, not job retries. */
const JOB_MAX_ATTEMPTS = 10;

export type AsaSignals = {
  signals: InstallSignals;
  settings: AttributionSettings;
  excludeClickIds: string[];
};

type Tx = Sql | TransactionSql<Record<string, never>>;

const queueAttempt = (tx: Tx, attributionId: string, runAt: Date) =>
  enqueueJob(
    tx,
    ASA_RESOLVE_TASK,
    { attributionId },
    { runAt, jobKey: `asa:${attributionId}`, maxAttempts: JOB_MAX_ATTEMPTS },
  );

/** Queues the lookup in the same transaction that stores the pending attribution. */
export async function enqueueAsaResolution(
  tx: Tx,
  row: {
    attributionId: string;
    appId: string;
    environment: Environment;
    devicePk: string;
    token: string;
    signals: AsaSignals;
    receivedAt: Date;
    firstAnswer: AdServicesAnswer | null;
  },
): Promise<void> {
  const notFound = row.firstAnswer?.kind === 'not_found' ? 1 : 0;
  const next = new Date(row.receivedAt.getTime() + (row.firstAnswer ? NOT_FOUND_RETRY_MS : 0));
  const inserted = await (tx as Sql)`
    insert into asa_resolutions (attribution_id, app_id, environment, device_pk, token, signals, received_at, attempts, not_found_count, next_attempt_at, last_error)
    values (${row.attributionId}, ${row.appId}, ${row.environment}, ${row.devicePk}, ${row.token}, ${(tx as Sql).json(row.signals as never)},
            ${row.receivedAt}, ${row.firstAnswer ? 1 : 0}, ${notFound}, ${next}, ${describe(row.firstAnswer)})
    on conflict (attribution_id) do nothing`;
  if (inserted.count) await queueAttempt(tx, row.attributionId, next);
}

const describe = (a: AdServicesAnswer | null) =>
  !a ? null : a.kind === 'unavailable' ? a.detail : a.kind;

/** When to call Apple next after a non-final answer, or null when the token is too old. */
export function nextAttemptAt(
  answer: AdServicesAnswer,
  attempts: number,
  notFoundCount: number,
  receivedAt: Date,
  now: Date,
): Date | null {
  let delay: number;
  if (answer.kind === 'not_found' && notFoundCount < NOT_FOUND_FAST_RETRIES)
    delay = NOT_FOUND_RETRY_MS;
  else {
    const slowAttempts = Math.max(
      0,
      attempts - (answer.kind === 'not_found' ? NOT_FOUND_FAST_RETRIES : 1),
    );
    delay = BACKOFF_MS[Math.min(slowAttempts, BACKOFF_MS.length - 1)];
  }
  const at = new Date(now.getTime() + delay);
  return at.getTime() - receivedAt.getTime() > ASA_TOKEN_LIFETIME_MS ? null : at;
}

type PendingLookup = {
  attribution_id: string;
  app_id: string;
  environment: Environment;
  device_pk: string;
  token: string;
  signals: AsaSignals;
  received_at: Date;
  attempts: number;
  not_found_count: number;
};

/** The `asa_resolve` job: one call to Apple for one pending install, then the outcome or the next attempt. */
export async function asaResolveJob(
  payload: unknown,
  { services, signal, log }: JobContext,
): Promise<void> {
  const { sql, config } = services;
  const attributionId = String((payload as { attributionId?: unknown })?.attributionId ?? '');
  const [r] = await sql<PendingLookup[]>`
    select attribution_id, app_id, environment, device_pk, token, signals, received_at, attempts, not_found_count
    from asa_resolutions where attribution_id = ${attributionId} and state = 'pending'`;
  if (!r) return; // already settled (a repeated job)

  const now = new Date();
  const tooOld = now.getTime() - r.received_at.getTime() > ASA_TOKEN_LIFETIME_MS;
  const answer: AdServicesAnswer = tooOld
    ? { kind: 'not_found' }
    : await callAdServices(config.appleAdServicesUrl, r.token, CALL_TIMEOUT_MS, signal);
  // Shutting down mid-call: fail the job so that the queue runs it again after the restart.
  if (signal.aborted && answer.kind === 'unavailable')
    throw new Error('shutting down during the Apple call');
  const attempts = r.attempts + (tooOld ? 0 : 1);
  if (answer.kind === 'unavailable')
    log.warn(
      {
        attributionId: r.attribution_id,
        appId: r.app_id,
        attempt: attempts,
        reason: answer.detail,
      },
      'Apple AdServices unreachable; the install stays pending and is retried',
    );
  const notFound = r.not_found_count + (answer.kind === 'not_found' ? 1 : 0);

  let final: AsaOutcome;
  let state: 'attributed' | 'not_attributed' | 'invalid_token' | 'expired';
  if (answer.kind === 'attributed') {
    final = answer;
    state = 'attributed';
  } else if (answer.kind === 'not_attributed') {
    final = { kind: 'not_attributed' };
    state = 'not_attributed';
  } else if (answer.kind === 'invalid_token') {
    final = { kind: 'invalid_token' };
    state = 'invalid_token';
  } else {
    const next = tooOld ? null : nextAttemptAt(answer, attempts, notFound, r.received_at, now);
    if (next) {
      await sql.begin(async (tx) => {
        await tx`
          update asa_resolutions set attempts = ${attempts}, not_found_count = ${notFound}, next_attempt_at = ${next},
            last_error = ${describe(answer)}
          where attribution_id = ${r.attribution_id}`;
        await queueAttempt(tx, r.attribution_id, next);
      });
      return;
    }
    final = { kind: 'expired' };
    state = 'expired';
  }
  const decision = await resolveAfterApple(
    sql,
    {
      appId: r.app_id,
      environment: r.environment,
      settings: r.signals.settings,
      signals: r.signals.signals,
      at: r.received_at,
      excludeClickIds: r.signals.excludeClickIds,
    },
    final,
  );
  await finish(sql, r, attempts, notFound, state, decision, answer);
  log.debug(
    { attributionId: r.attribution_id, state, matchType: decision.fields.match_type },
    'asa attribution resolved',
  );
}

async function finish(
  sql: Sql,
  r: PendingLookup,
  attempts: number,
  notFound: number,
  state: string,
  d: Decision,
  answer: AdServicesAnswer,
) {
  const f = d.fields;
  await sql.begin(async (tx) => {
    await tx`
      update attributions set
        status = 'resolved', network = ${f.network}, match_type = ${f.match_type}, campaign = ${f.campaign},
        campaign_id = ${f.campaign_id}, campaign_name = ${f.campaign_name}, ad_group_id = ${f.ad_group_id},
        ad_group_name = ${f.ad_group_name}, ad_id = ${f.ad_id}, keyword = ${f.keyword}, link_id = ${f.link_id},
        click_id = ${f.click_id}, fbclid = ${f.fbclid}, gclid = ${f.gclid}, ttclid = ${f.ttclid},
        query_params = ${tx.json(f.query_params)}, custom_data = ${tx.json(f.custom_data)}, clicked_at = ${f.clicked_at},
        country = coalesce(${f.country}, country),
        explanation = ${tx.json({ ...d.explanation, asaAttempts: attempts, ...(answer.kind === 'attributed' && answer.record.testData ? { asaTestData: true } : {}) } as never)},
        updated_at = now()
      where id = ${r.attribution_id} and status = 'pending'`;
    // The token and the raw IP are not kept once the lookup is over.
    await tx`
      update asa_resolutions set state = ${state}, attempts = ${attempts}, not_found_count = ${notFound}, token = '',
        signals = jsonb_set(signals, '{signals,ip}', 'null'), finished_at = now(), last_error = ${describe(answer)}
      where attribution_id = ${r.attribution_id}`;
  });
}

export type AsaLookupStatus = {
  /** Installs waiting for Apple's answer (counted as installs, not attributed). */
  pendingLookups: number;
  /** Of those, how many failed their last call (Apple unreachable: timeout, 5xx, network error). */
  failingLookups: number;
  /** The most recent failure, as the job recorded it, and when the lookup is tried again. */
  lastError: string | null;
  nextAttemptAt: Date | null;
};

/** What an operator sees in `/readyz`: is Apple AdServices answering the background lookups? */
export async function asaLookupStatus(sql: Sql): Promise<AsaLookupStatus> {
  const [r] = await sql<{ pending: number; failing: number }[]>`
    select count(*)::int as pending,
           (count(*) filter (where last_error is not null and last_error not in ('not_found', 'not_attributed')))::int as failing
    from asa_resolutions where state = 'pending'`;
  const [last] = await sql<{ last_error: string; next_attempt_at: Date }[]>`
    select last_error, next_attempt_at from asa_resolutions
    where state = 'pending' and last_error is not null and last_error not in ('not_found', 'not_attributed')
    order by next_attempt_at desc limit 1`;
  return {
    pendingLookups: r.pending,
    failingLookups: r.failing,
    lastError: last?.last_error ?? null,
    nextAttemptAt: last?.next_attempt_at ?? null,
  };
}
