/**
 * The attribution engine: gathers what the waterfall needs from the store (candidate clicks) and
 * from Apple (time-boxed), then lets `decideAttribution` decide. The only module entry point used
 * by the SDK endpoints and by the background AdServices job.
 */
import { normalizeIp } from '../../lib/ip.ts';
import type { Sql } from '../../db/client.ts';
import { clickIdTime } from '../clicks/click-id.ts';
import { callAdServices, type AdServicesAnswer } from './adservices.ts';
import {
  decideAttribution,
  type AsaOutcome,
  type AttributionSettings,
  type CandidateClick,
  type Candidates,
  type Decision,
  type Environment,
  type InstallSignals,
} from './waterfall.ts';

const CLICK_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Rows read per rule; the waterfall needs only the newest few. */
const CANDIDATE_LIMIT = 50;

// `used`: clicks.id is collated "C" (migration 0005) and attributions.click_id is not: compared as
// they are, the comparison takes "C" and the index on attributions.click_id cannot serve it, so
// every candidate click read the whole index (O(installs) per configure).
const CLICK_COLUMNS = (sql: Sql) => sql`
  c.id, c.app_id, c.link_id, c.environment, c.clicked_at, c.network, c.campaign, c.campaign_id, c.campaign_name,
  c.ad_group_id, c.ad_group_name, c.ad_id, c.keyword, c.fbclid, c.gclid, c.ttclid, c.utm_campaign, c.idfa, c.gaid,
  c.query_params, c.platform, c.os_version, c.language, c.user_agent, c.device_model, c.country, c.is_bot,
  l.custom_data as link_custom_data, l.campaign_name as link_campaign_name,
  exists (select 1 from attributions a where a.click_id = c.id collate "default") as used`;

/** How long configure waits for a click answered a moment ago that no click writer has flushed. */
export const LATE_CLICK_WAIT_MS = 1_500;
/** A click id issued less than this ago and not stored yet may still be in a writer's buffer. */
export const LATE_CLICK_MAX_AGE_MS = 60_000;
const LATE_CLICK_POLL_MS = 50;
/** Server clocks may differ a little between the process that issued the id and this one. */
const CLOCK_SKEW_MS = 5_000;

/**
 * The click ids (issued by this platform: their time is in them) that are not among `found` and
 * were issued less than `maxAgeMs` before `now`: answered clicks a writer may still be holding.
 */
export function lateClickIds(
  ids: string[],
  found: { id: string }[],
  now: number,
  maxAgeMs = LATE_CLICK_MAX_AGE_MS,
): string[] {
  return ids.filter((id) => {
    if (found.some((c) => c.id === id)) return false;
    const t = clickIdTime(id);
    return t !== null && t <= now + CLOCK_SKEW_MS && now - t <= maxAgeMs;
  });
}

export type LoadOptions = {
  /** Wait up to this long for recent click ids not stored yet (0: do not wait). */
  waitForClicksMs?: number;
  /** Stops the wait (the request got its deadline answer). */
  signal?: AbortSignal;
  /**
   * Also tells, in the same round trip, whether this device already has an install attribution
   * (`deviceAttributed`): configure's repeats are rare, so it reads the attribution itself only then.
   */
  deviceId?: string;
};

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is stored by the click writer as plain IPv4. */
export async function loadCandidates(
  sql: Sql,
  appId: string,
  environment: Environment,
  s: InstallSignals,
  settings: AttributionSettings,
  at: Date,
  opts: LoadOptions = {},
): Promise<Candidates & { deviceAttributed: boolean }> {
  const clickIds = s.clickIds.filter((id) => CLICK_ID.test(id));
  const adIds = [s.idfa, s.gaid]
    .filter((v): v is string => !!v)
    .flatMap((v) => [v, v.toLowerCase(), v.toUpperCase()]);
  const ip = normalizeIp(s.ip);
  const lookbackStart = new Date(at.getTime() - 30 * 24 * 3600_000);
  const probStart = new Date(at.getTime() - settings.probabilisticWindowHours * 3600_000);
  const until = new Date(at.getTime() + 5 * 60_000);

  // One statement for every rule that applies (one round trip): each branch keeps its own index
  // and limit, and its rows come back tagged with the rule.
  const branches = [
    clickIds.length
      ? sql`select 'click_id' as rule, ${CLICK_COLUMNS(sql)} from clicks c left join links l on l.id = c.link_id
            where c.id = any(${clickIds})`
      : null,
    adIds.length
      ? sql`(select 'device_id' as rule, ${CLICK_COLUMNS(sql)} from clicks c left join links l on l.id = c.link_id
             where c.app_id = ${appId} and c.environment = ${environment}
               and (c.idfa = any(${adIds}) or c.gaid = any(${adIds}))
               and c.clicked_at between ${lookbackStart} and ${until}
             order by c.clicked_at desc limit ${CANDIDATE_LIMIT})`
      : null,
    ip && settings.probabilisticEnabled
      ? sql`(select 'ip' as rule, ${CLICK_COLUMNS(sql)} from clicks c left join links l on l.id = c.link_id
             where c.app_id = ${appId} and c.environment = ${environment} and c.ip = ${ip}::inet and not c.is_bot
               and c.clicked_at between ${probStart} and ${until}
             order by c.clicked_at desc limit ${CANDIDATE_LIMIT})`
      : null,
    // One row of nulls when the device is attributed (the shape of a click row, for the union).
    opts.deviceId !== undefined
      ? sql`(select 'attributed' as rule, ${CLICK_COLUMNS(sql)}
             from (values (1)) k (x) left join clicks c on false left join links l on false
             where exists (select 1 from devices d join attributions a on a.device_pk = d.id
                           where d.app_id = ${appId} and d.environment = ${environment} and d.device_id = ${opts.deviceId}))`
      : null,
  ].filter((b) => b !== null);
  const rows = branches.length
    ? await sql<
        (CandidateClick & { rule: string })[]
      >`${branches.reduce((a, b) => sql`${a} union all ${b}`)}`
    : [];
  const byRule = (rule: string) =>
    rows.filter((r) => r.rule === rule).map(({ rule: _, ...click }) => click as CandidateClick);
  const [byClickId, byDeviceId, byIp] = [byRule('click_id'), byRule('device_id'), byRule('ip')];
  const deviceAttributed = rows.some((r) => r.rule === 'attributed');
  const clicks = [...byClickId];
  if (opts.waitForClicksMs) {
    // A click answered a moment ago may still be in a click writer's buffer (in this process or
    // another: they flush every 50 ms): re-read it by primary key until it is there.
    const until = Date.now() + opts.waitForClicksMs;
    let late = lateClickIds(clickIds, clicks, Date.now());
    while (late.length && Date.now() < until && !opts.signal?.aborted) {
      await new Promise((r) => setTimeout(r, LATE_CLICK_POLL_MS));
      const more = await sql<
        CandidateClick[]
      >`select ${CLICK_COLUMNS(sql)} from clicks c left join links l on l.id = c.link_id where c.id = any(${late})`;
      clicks.push(...more);
      late = late.filter((id) => !more.some((c) => c.id === id));
    }
  }
  return { byClickId: clicks, byDeviceId: [...byDeviceId], byIp: [...byIp], deviceAttributed };
}

export type ResolveInput = {
  appId: string;
  environment: Environment;
  settings: AttributionSettings;
  signals: InstallSignals;
  asaToken: string | null;
  /** Install time: windows are measured back from it. */
  at: Date;
  excludeClickIds?: string[];
};

export type ResolveOptions = {
  appleUrl: string;
  appleTimeoutMs: number;
  /** Aborts the Apple call (the request was answered at its deadline). */
  signal?: AbortSignal;
};

export type Resolution = Decision & {
  /** What Apple said during the request, when it was asked (drives the background job). */
  apple: AdServicesAnswer | null;
};

/** Resolves a new install: click id / referrer, then Apple (time-boxed), then device id, probabilistic, organic. */
export async function resolveInstall(
  sql: Sql,
  input: ResolveInput,
  opts: ResolveOptions,
  preloaded?: Candidates,
): Promise<Resolution> {
  const candidates =
    preloaded ??
    (await loadCandidates(
      sql,
      input.appId,
      input.environment,
      input.signals,
      input.settings,
      input.at,
    ));
  const base = {
    appId: input.appId,
    environment: input.environment,
    signals: input.signals,
    candidates,
    settings: input.settings,
    now: input.at,
    excludeClickIds: input.excludeClickIds,
  };
  const first = decideAttribution({ ...base, asa: { kind: 'absent' } });
  if (
    !input.asaToken ||
    first.fields.match_type === 'click_id' ||
    first.fields.match_type === 'referrer'
  ) {
    return { ...first, apple: null };
  }
  const apple = await callAdServices(
    opts.appleUrl,
    input.asaToken,
    opts.appleTimeoutMs,
    opts.signal,
  );
  return { ...decideAttribution({ ...base, asa: asaOutcome(apple) }), apple };
}

/** Completes the waterfall once Apple's final answer is known (background job). */
export async function resolveAfterApple(
  sql: Sql,
  input: Omit<ResolveInput, 'asaToken'>,
  asa: AsaOutcome,
): Promise<Decision> {
  const candidates = await loadCandidates(
    sql,
    input.appId,
    input.environment,
    input.signals,
    input.settings,
    input.at,
  );
  return decideAttribution({
    appId: input.appId,
    environment: input.environment,
    signals: input.signals,
    candidates,
    settings: input.settings,
    now: input.at,
    asa,
    excludeClickIds: input.excludeClickIds,
  });
}

export function asaOutcome(a: AdServicesAnswer): AsaOutcome {
  switch (a.kind) {
    case 'attributed':
      return a;
    case 'not_attributed':
      return { kind: 'not_attributed' };
    case 'invalid_token':
      return { kind: 'invalid_token' };
    case 'not_found':
      return { kind: 'pending', reason: 'not_found' };
    case 'unavailable':
      return { kind: 'pending', reason: `unavailable: ${a.detail}` };
  }
}
