/**
 * configure: the install signal. An idempotent upsert keyed by (app, environment, device_id):
 * the first accepted call creates the device, resolves attribution and records the `install`
 * event; every repeat (including a concurrent one) returns the same attribution.
 */
import type { Logger } from 'pino';
import type { Sql } from '../../db/client.ts';
import { newTimeOrderedId } from '../../lib/crypto.ts';
import { truncate } from '../../lib/text.ts';
import { enqueueAsaResolution } from '../attribution/asa-resolution.ts';
import { countryOf } from '../../lib/geo.ts';
import {
  LATE_CLICK_WAIT_MS,
  lateClickIds,
  loadCandidates,
  resolveInstall,
  type Resolution,
} from '../attribution/engine.ts';
import { enqueueLateClickCheck, LATE_CLICK_RECHECK_AGE_MS } from '../attribution/late-clicks.ts';
import { parseLocale } from '../attribution/locale.ts';
import { parseInstallReferrer } from '../attribution/referrer.ts';
import type { AttributionSettings, Environment, InstallSignals } from '../attribution/waterfall.ts';
import type { SdkApp } from './app-cache.ts';
import type { ConfigureBody } from './sdk-body.ts';
import { linkUser, upsertConfiguredDevice, type DeviceExtra } from './device-store.ts';
import { configureBody, KILL_SWITCH_BODY, type StoredAttribution } from './configure-response.ts';
import { mayForward, recordDeliveries } from '../integrations/outbox.ts';
import type { InstallWriter } from './install-writer.ts';

export type ConfigureContext = {
  sql: Sql;
  log: Logger;
  appleUrl: string;
  appleTimeoutMs: number;
  /** The install writes, batched (one statement and one commit for the installs that arrive together). */
  installs: InstallWriter;
};
export type RequestMeta = {
  ip: string | null;
  userAgent: string | null;
  sdkVersion: string | null;
  receivedAt: Date;
  /** Aborted when the request got its deadline answer (503): no work is started after that. */
  signal?: AbortSignal;
};

/** The request was answered already (deadline): stop before writing anything. */
export class AbandonedError extends Error {}
const checkAbandoned = (signal?: AbortSignal) => {
  if (signal?.aborted) throw new AbandonedError('configure abandoned after its deadline answer');
};

const DAY = 24 * 3600_000;

export function installSignals(b: ConfigureBody, ip: string | null): InstallSignals {
  const referrer = parseInstallReferrer(b.installReferrer);
  const clickIds: string[] = [];
  if (b.arClickId) clickIds.push(b.arClickId);
  if (referrer?.arClickId && referrer.arClickId !== b.arClickId) clickIds.push(referrer.arClickId);
  return {
    platform: b.deviceInfo.platform,
    osVersion: b.deviceInfo.osVersion,
    language: parseLocale(b.deviceInfo.locale).language,
    ip,
    idfa: b.idfa,
    gaid: b.gaid,
    clickIds,
    referrer,
    referrerClickTs: b.referrerClickTs,
    referrerInstallTs: b.referrerInstallTs,
    hasAsaToken: !!b.asaToken,
  };
}

/** `device_info.platform` missing (collection failed): infer it from the signals, else `unknown`. */
export function inferPlatform(b: ConfigureBody, userAgent: string | null): string {
  if (b.asaToken || b.idfa || /CFNetwork|Darwin/.test(userAgent ?? '')) return 'ios';
  if (
    b.gaid ||
    b.installReferrer ||
    b.referrerClickTs !== null ||
    /Dalvik|okhttp|Android/i.test(userAgent ?? '')
  )
    return 'android';
  return 'unknown';
}

const settingsOf = (app: SdkApp): AttributionSettings => ({
  clickWindowHours: app.clickWindowHours,
  probabilisticEnabled: app.probabilisticEnabled,
  probabilisticWindowHours: app.probabilisticWindowHours,
});

type ExistingRow = StoredAttribution & { device_pk: string; reinstall: boolean };

async function findAttribution(
  sql: Sql,
  appId: string,
  environment: Environment,
  deviceId: string,
): Promise<ExistingRow | null> {
  const [row] = await sql<ExistingRow[]>`
    select a.* from devices d join attributions a on a.device_pk = d.id
    where d.app_id = ${appId} and d.environment = ${environment} and d.device_id = ${deviceId}`;
  return row ?? null;
}

/** Handles one configure; returns the response body (always sent with 200). */
export async function configure(
  ctx: ConfigureContext,
  app: SdkApp,
  environment: Environment,
  b: ConfigureBody,
  meta: RequestMeta,
): Promise<string> {
  // Kill switch: no install is created; earlier installs keep working for events.
  if (!app.sdkEnabled) return KILL_SWITCH_BODY;

  if (b.deviceInfo.platform === 'unknown') b.deviceInfo.platform = inferPlatform(b, meta.userAgent);
  const key = { appId: app.id, environment, deviceId: b.deviceId };
  const bundleMismatch =
    !!b.deviceInfo.bundleId &&
    app.bundleIds.length > 0 &&
    !app.bundleIds.includes(b.deviceInfo.bundleId);
  if (bundleMismatch)
    ctx.log.warn(
      { appId: app.id, bundleId: b.deviceInfo.bundleId },
      'configure: bundle id differs from the app',
    );
  const deviceExtra: Omit<DeviceExtra, 'installedAt'> = {
    now: meta.receivedAt,
    userAgent: meta.userAgent ? truncate(meta.userAgent, 512) : null,
    sdkVersion: b.sdkVersion ?? meta.sdkVersion,
    bundleMismatch,
    country: meta.ip ? countryOf(meta.ip) : null,
  };

  // One round trip reads the candidate clicks and whether the device is known; repeats are rare
  // (configure is sent once per install), so only they read the attribution itself.
  const signals = installSignals(b, meta.ip);
  const candidates = await loadCandidates(
    ctx.sql,
    app.id,
    environment,
    signals,
    settingsOf(app),
    meta.receivedAt,
    { waitForClicksMs: LATE_CLICK_WAIT_MS, signal: meta.signal, deviceId: b.deviceId },
  );
  checkAbandoned(meta.signal);
  const existing = candidates.deviceAttributed
    ? await findAttribution(ctx.sql, app.id, environment, b.deviceId)
    : null;
  if (existing) return repeat(ctx, app, environment, b, meta, existing, deviceExtra);

  const resolution = await resolveInstall(
    ctx.sql,
    {
      appId: app.id,
      environment,
      settings: settingsOf(app),
      signals,
      asaToken: b.asaToken,
      at: meta.receivedAt,
    },
    { appleUrl: ctx.appleUrl, appleTimeoutMs: ctx.appleTimeoutMs, signal: meta.signal },
    candidates,
  );

  if (resolution.apple?.kind === 'unavailable')
    ctx.log.warn(
      { appId: app.id, reason: resolution.apple.detail },
      'Apple AdServices unreachable during configure; the install is stored pending',
    );
  const attributionId = newTimeOrderedId('att');
  const installEventId = newTimeOrderedId('evt');
  const pending = resolution.status === 'pending' && !!b.asaToken;
  // A click id issued shortly before and still not stored (a writer far behind): looked for again
  // by a job, which credits the install to the click once it is there (attribution/late-clicks.ts).
  const lateClicks =
    resolution.status === 'resolved' && resolution.fields.match_type !== 'click_id'
      ? lateClickIds(
          signals.clickIds,
          candidates.byClickId,
          meta.receivedAt.getTime(),
          LATE_CLICK_RECHECK_AGE_MS,
        )
      : [];
  checkAbandoned(meta.signal);
  const stored = await ctx.installs.submit({
    attributionId,
    installEventId,
    key,
    body: b,
    platform: signals.platform,
    resolution,
    extra: { ...deviceExtra, installedAt: meta.receivedAt },
    forward: mayForward(resolution.fields),
    after: async (tx, devicePk) => {
      if (pending) {
        await enqueueAsaResolution(tx, {
          attributionId,
          appId: app.id,
          environment,
          devicePk,
          token: b.asaToken!,
          signals: { signals, settings: settingsOf(app), excludeClickIds: [] },
          receivedAt: meta.receivedAt,
          firstAnswer: resolution.apple,
        });
      }
      if (lateClicks.length) {
        await enqueueLateClickCheck(
          tx,
          {
            attributionId,
            appId: app.id,
            environment,
            signals: {
              platform: signals.platform,
              osVersion: signals.osVersion,
              language: signals.language,
              clickIds: signals.clickIds,
              referrerClickTs: signals.referrerClickTs,
              referrerInstallTs: signals.referrerInstallTs,
            },
            settings: settingsOf(app),
          },
          meta.receivedAt,
        );
      }
    },
  });
  return configureBody(stored);
}

/**
 * A repeat for a known device: merge new signals, return the original attribution. A new click id
 * is a reinstall touch; it re-attributes only once the app's re-attribution window has passed.
 */
async function repeat(
  ctx: ConfigureContext,
  app: SdkApp,
  environment: Environment,
  b: ConfigureBody,
  meta: RequestMeta,
  existing: ExistingRow,
  deviceExtra: Omit<DeviceExtra, 'installedAt'>,
): Promise<string> {
  const key = { appId: app.id, environment, deviceId: b.deviceId };
  const signals = installSignals(b, meta.ip);
  const newClickIds = signals.clickIds.filter((id) => id !== existing.click_id);
  let touch: Resolution | null = null;
  if (newClickIds.length) {
    // Only the click-id rule can trigger a reinstall touch.
    const clickOnly: InstallSignals = {
      ...signals,
      clickIds: newClickIds,
      idfa: null,
      gaid: null,
      ip: null,
      referrer: null,
      hasAsaToken: false,
    };
    const r = await resolveInstall(
      ctx.sql,
      {
        appId: app.id,
        environment,
        settings: { ...settingsOf(app), probabilisticEnabled: false },
        signals: clickOnly,
        asaToken: null,
        at: meta.receivedAt,
        excludeClickIds: existing.click_id ? [existing.click_id] : [],
      },
      { appleUrl: ctx.appleUrl, appleTimeoutMs: 0 },
    );
    if (r.fields.match_type === 'click_id') touch = r;
  }

  checkAbandoned(meta.signal);
  const result = await ctx.sql.begin(async (tx) => {
    await upsertConfiguredDevice(tx, key, b, { ...deviceExtra, installedAt: null });
    if (b.customerUserId)
      await linkUser(
        tx,
        existing.device_pk,
        app.id,
        environment,
        b.customerUserId,
        meta.receivedAt,
      );
    if (!touch) return existing;
    const windowPassed =
      meta.receivedAt.getTime() - existing.installed_at.getTime() >=
      app.reattributionWindowDays * DAY;
    // One touch per click (configure repeats, even concurrent ones, carry the same click id again).
    const [recorded] = await tx`
      insert into attribution_touches (app_id, environment, device_pk, attribution_id, kind, click_id, network, reattributed, touched_at)
      values (${app.id}, ${environment}, ${existing.device_pk}, ${existing.id}, 'reinstall', ${touch.fields.click_id}, ${touch.fields.network},
              ${windowPassed && existing.status !== 'pending'}, ${meta.receivedAt})
      on conflict (device_pk, click_id) do nothing
      returning id`;
    if (!recorded) {
      const [current] = await tx<
        StoredAttribution[]
      >`select * from attributions where id = ${existing.id}`;
      return current;
    }
    if (!windowPassed || existing.status === 'pending') return existing;
    const f = touch.fields;
    const [row] = await tx<StoredAttribution[]>`
      update attributions set
        network = ${f.network}, match_type = ${f.match_type}, campaign = ${f.campaign}, campaign_id = ${f.campaign_id},
        campaign_name = ${f.campaign_name}, ad_group_id = ${f.ad_group_id}, ad_group_name = ${f.ad_group_name}, ad_id = ${f.ad_id},
        keyword = ${f.keyword}, link_id = ${f.link_id}, click_id = ${f.click_id}, fbclid = ${f.fbclid}, gclid = ${f.gclid},
        ttclid = ${f.ttclid}, query_params = ${tx.json(f.query_params)}, custom_data = ${tx.json(f.custom_data)},
        clicked_at = ${f.clicked_at}, installed_at = ${meta.receivedAt}, country = coalesce(${f.country}, country), reinstall = true,
        explanation = ${tx.json({ ...touch.explanation, reattributedFrom: { network: existing.network, matchType: existing.match_type, clickId: existing.click_id, installedAt: existing.installed_at.toISOString() } } as never)},
        updated_at = now()
      where id = ${existing.id}
      returning *`;
    const installEventId = newTimeOrderedId('evt');
    await tx`
      insert into events (id, app_id, environment, device_pk, device_id, user_id, event_name, source, properties, occurred_at, received_at)
      select ${installEventId}, ${app.id}, ${environment}, id, device_id, customer_user_id, 'install', 'system',
             ${tx.json({ platform: signals.platform, reinstall: true })}, ${meta.receivedAt}, ${meta.receivedAt}
      from devices where id = ${existing.device_pk}`;
    if (mayForward(f)) await recordDeliveries(tx, [installEventId], [app.id]);
    return row;
  });
  return configureBody(result);
}
