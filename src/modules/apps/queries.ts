import type { Sql } from '../../db/client.ts';
import { randomHex } from '../../lib/crypto.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import type { AppCreateInput, AppResource, AppUpdateInput } from './schemas.ts';

/** NOTIFY channel carrying the id of an app whose settings changed (payload: app id). */
export const APP_CHANGED_CHANNEL = 'apprefer_app_changed';

/** An apps row as stored. Other modules read apps through `getApp` / `AppRow`. */
export type AppRow = {
  id: string;
  seq: string;
  org_id: string;
  name: string;
  ios_bundle_id: string | null;
  ios_app_store_id: string | null;
  ios_store_url: string | null;
  android_package_name: string | null;
  android_store_url: string | null;
  web_url: string | null;
  timezone: string;
  currency: string;
  sdk_enabled: boolean;
  sdk_key_live: string;
  sdk_key_test: string;
  legacy_app_id: string | null;
  click_window_hours: number;
  probabilistic_enabled: boolean;
  probabilistic_window_hours: number;
  reattribution_window_days: number;
  qualified_trials_enabled: boolean;
  qualified_trials_delay_hours: number | string;
  archived_at: Date | null;
  created_at: Date;
  updated_at: Date;
};

export const iosStoreUrl = (a: Pick<AppRow, 'ios_store_url' | 'ios_app_store_id'>) =>
  a.ios_store_url ??
  (a.ios_app_store_id ? `https://apps.apple.com/app/id${a.ios_app_store_id}` : null);
export const androidStoreUrl = (a: Pick<AppRow, 'android_store_url' | 'android_package_name'>) =>
  a.android_store_url ??
  (a.android_package_name
    ? `https://play.google.com/store/apps/details?id=${encodeURIComponent(a.android_package_name)}`
    : null);

export function toAppResource(a: AppRow): AppResource {
  return {
    id: a.id,
    name: a.name,
    ios: a.ios_bundle_id
      ? { bundleId: a.ios_bundle_id, appStoreId: a.ios_app_store_id, storeUrl: iosStoreUrl(a) }
      : null,
    android: a.android_package_name
      ? { packageName: a.android_package_name, storeUrl: androidStoreUrl(a)! }
      : null,
    webUrl: a.web_url,
    timezone: a.timezone,
    currency: a.currency,
    sdkEnabled: a.sdk_enabled,
    sdkKeys: { live: a.sdk_key_live, test: a.sdk_key_test },
    legacyAppId: a.legacy_app_id,
    attributionSettings: {
      clickWindowHours: a.click_window_hours,
      probabilisticEnabled: a.probabilistic_enabled,
      probabilisticWindowHours: a.probabilistic_window_hours,
      reattributionWindowDays: a.reattribution_window_days,
    },
    qualifiedTrials: {
      enabled: a.qualified_trials_enabled,
      delayHours: Number(a.qualified_trials_delay_hours), // numeric: a string from the driver
    },
    archived: a.archived_at !== null,
    createdAt: a.created_at.toISOString(),
    updatedAt: a.updated_at.toISOString(),
  };
}

/** An app of the organization, or a 404 (another organization's app is a 404 too). */
export async function getApp(sql: Sql, orgId: string, appId: string): Promise<AppRow> {
  const [row] = await sql<AppRow[]>`select * from apps where id = ${appId} and org_id = ${orgId}`;
  if (!row) throw notFound('App');
  return row;
}

export async function listApps(
  sql: Sql,
  orgId: string,
  opts: {
    limit: number;
    afterSeq: string | null;
    appIds: string[] | null;
    includeArchived: boolean;
  },
) {
  return sql<AppRow[]>`
    select * from apps
    where org_id = ${orgId}
      ${opts.afterSeq ? sql`and seq < ${opts.afterSeq}` : sql``}
      ${opts.appIds ? sql`and id = any(${opts.appIds})` : sql``}
      ${opts.includeArchived ? sql`` : sql`and archived_at is null`}
    order by seq desc
    limit ${opts.limit + 1}`;
}

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (e: unknown, constraint?: string) =>
  (e as { code?: string }).code === UNIQUE_VIOLATION &&
  (!constraint || (e as { constraint_name?: string }).constraint_name === constraint);

/** SDK keys: `pk_live_` / `pk_test_` + 24 hex characters, unique in the instance and never reused. */
const newSdkKey = (env: 'live' | 'test') => `pk_${env}_${randomHex(24)}`;

export async function createApp(sql: Sql, orgId: string, input: AppCreateInput): Promise<AppRow> {
  const s = input.attributionSettings ?? {};
  const q = input.qualifiedTrials ?? {};
  for (let attempt = 0; ; attempt++) {
    const id = `app_${randomHex(11)}`;
    const live = newSdkKey('live');
    const test = newSdkKey('test');
    try {
      return await sql.begin(async (tx) => {
        await tx`insert into issued_sdk_keys (key, app_id) values (${live}, ${id}), (${test}, ${id})`;
        const [row] = await tx<AppRow[]>`
          insert into apps (
            id, org_id, name, ios_bundle_id, ios_app_store_id, ios_store_url, android_package_name, android_store_url,
            web_url, timezone, currency, sdk_enabled, sdk_key_live, sdk_key_test, legacy_app_id,
            click_window_hours, probabilistic_enabled, probabilistic_window_hours, reattribution_window_days,
            qualified_trials_enabled, qualified_trials_delay_hours)
          values (
            ${id}, ${orgId}, ${input.name}, ${input.ios?.bundleId ?? null}, ${input.ios?.appStoreId ?? null}, ${input.ios?.storeUrl ?? null},
            ${input.android?.packageName ?? null}, ${input.android?.storeUrl ?? null}, ${input.webUrl ?? null},
            ${input.timezone}, ${input.currency}, ${input.sdkEnabled}, ${live}, ${test}, ${input.legacyAppId ?? null},
            ${s.clickWindowHours ?? 168}, ${s.probabilisticEnabled ?? true}, ${s.probabilisticWindowHours ?? 24}, ${s.reattributionWindowDays ?? 90},
            ${q.enabled ?? false}, ${q.delayHours ?? 2})
          returning *`;
        // Caches of SDK credentials drop legacy aliases: this one may now be claimed twice.
        if (row.legacy_app_id) await tx.notify(APP_CHANGED_CHANNEL, id);
        return row;
      });
    } catch (e) {
      if (isUniqueViolation(e, 'apps_org_legacy_app_id_key'))
        throw new ApiError(
          409,
          'conflict',
          'legacyAppId is already used by another app of this organization',
          [{ path: 'legacyAppId', message: 'taken' }],
        );
      if (isUniqueViolation(e) && attempt < 5) continue; // an id or key collided: draw again
      throw e;
    }
  }
}

export async function updateApp(
  sql: Sql,
  orgId: string,
  appId: string,
  input: AppUpdateInput,
): Promise<AppRow> {
  const set: Record<string, unknown> = {};
  if (input.name !== undefined) set.name = input.name;
  if (input.ios !== undefined) {
    set.ios_bundle_id = input.ios?.bundleId ?? null;
    set.ios_app_store_id = input.ios?.appStoreId ?? null;
    set.ios_store_url = input.ios?.storeUrl ?? null;
  }
  if (input.android !== undefined) {
    set.android_package_name = input.android?.packageName ?? null;
    set.android_store_url = input.android?.storeUrl ?? null;
  }
  if (input.webUrl !== undefined) set.web_url = input.webUrl;
  if (input.timezone !== undefined) set.timezone = input.timezone;
  if (input.currency !== undefined) set.currency = input.currency;
  if (input.sdkEnabled !== undefined) set.sdk_enabled = input.sdkEnabled;
  if (input.legacyAppId !== undefined) set.legacy_app_id = input.legacyAppId;
  const s = input.attributionSettings ?? {};
  if (s.clickWindowHours !== undefined) set.click_window_hours = s.clickWindowHours;
  if (s.probabilisticEnabled !== undefined) set.probabilistic_enabled = s.probabilisticEnabled;
  if (s.probabilisticWindowHours !== undefined)
    set.probabilistic_window_hours = s.probabilisticWindowHours;
  if (s.reattributionWindowDays !== undefined)
    set.reattribution_window_days = s.reattributionWindowDays;
  const q = input.qualifiedTrials ?? {};
  if (q.enabled !== undefined) set.qualified_trials_enabled = q.enabled;
  if (q.delayHours !== undefined) set.qualified_trials_delay_hours = q.delayHours;

  const archive =
    input.archived === undefined
      ? sql``
      : input.archived
        ? sql`, archived_at = coalesce(archived_at, now())`
        : sql`, archived_at = null`;
  try {
    const [row] = await sql<AppRow[]>`
      update apps set ${sql({ ...set, updated_at: new Date() })} ${archive}
      where id = ${appId} and org_id = ${orgId}
      returning *`;
    if (!row) throw notFound('App');
    // Caches of app settings (SDK keys, destinations) in every server process drop this app.
    await sql.notify(APP_CHANGED_CHANNEL, appId);
    return row;
  } catch (e) {
    if (isUniqueViolation(e, 'apps_org_legacy_app_id_key'))
      throw new ApiError(
        409,
        'conflict',
        'legacyAppId is already used by another app of this organization',
        [{ path: 'legacyAppId', message: 'taken' }],
      );
    throw e;
  }
}
