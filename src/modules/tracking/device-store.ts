/**
 * Device rows: the idempotent upsert of configure and the user-id link of `_set_user_id`.
 * Absent values never erase stored ones.
 */
import type { TransactionSql } from 'postgres';
import type { Sql } from '../../db/client.ts';
import type { Environment } from '../attribution/waterfall.ts';
import { parseLocale, utcOffsetMinutes } from '../attribution/locale.ts';
import type { ConfigureBody } from './sdk-body.ts';

/** A pool or a transaction: both run queries. */
export type Tx = Sql | TransactionSql<Record<string, never>>;

export type DeviceKey = { appId: string; environment: Environment; deviceId: string };

/** What a configure knows about its device beyond the body. `installedAt` null keeps it unset. */
export type DeviceExtra = {
  installedAt: Date | null;
  now: Date;
  userAgent: string | null;
  sdkVersion: string | null;
  bundleMismatch: boolean;
  country: string | null;
};

/** The `devices` columns a configure writes, with their types as its JSON record is read. */
const DEVICE_FIELDS = [
  ['app_id', 'text'],
  ['environment', 'text'],
  ['device_id', 'text'],
  ['platform', 'text'],
  ['installed_at', 'timestamptz'],
  ['first_seen_at', 'timestamptz'],
  ['last_seen_at', 'timestamptz'],
  ['idfa', 'text'],
  ['gaid', 'text'],
  ['customer_user_id', 'text'],
  ['app_version', 'text'],
  ['os_version', 'text'],
  ['model', 'text'],
  ['locale', 'text'],
  ['timezone', 'text'],
  ['country', 'text'],
  ['sdk_version', 'text'],
  ['device_info', 'jsonb'],
  ['language', 'text'],
  ['region', 'text'],
  ['utc_offset_minutes', 'int'],
  ['bundle_mismatch', 'boolean'],
  ['user_agent', 'text'],
  ['attribution_id', 'text'],
] as const;

type DeviceRecord = Record<(typeof DEVICE_FIELDS)[number][0], unknown>;

/** `insert into devices (…)` column list and the matching `jsonb_to_record(…) as d(…)` definition. */
export const DEVICE_COLUMNS = DEVICE_FIELDS.map(([name]) => name).join(', ');
export const DEVICE_RECORD_TYPE = DEVICE_FIELDS.map(([name, type]) => `${name} ${type}`).join(', ');

/**
 * A configure's device as one JSON record of `devices` columns: the single mapping of its fields
 * (locale → language and region, time zone → UTC offset…), read by the repeat upsert below and by
 * the install batch of install-writer.ts.
 */
export function deviceRecord(
  key: DeviceKey,
  b: ConfigureBody,
  extra: DeviceExtra,
  attributionId: string | null,
): DeviceRecord {
  const info = b.deviceInfo;
  const { language, region } = parseLocale(info.locale);
  const now = extra.now.toISOString();
  return {
    app_id: key.appId,
    environment: key.environment,
    device_id: key.deviceId,
    platform: info.platform,
    installed_at: extra.installedAt?.toISOString() ?? null,
    first_seen_at: now,
    last_seen_at: now,
    idfa: b.idfa,
    gaid: b.gaid,
    customer_user_id: b.customerUserId,
    app_version: info.appVersion,
    os_version: info.osVersion,
    model: info.model,
    locale: info.locale,
    timezone: info.timezone,
    country: extra.country,
    sdk_version: extra.sdkVersion,
    device_info: info.raw,
    language,
    region,
    utc_offset_minutes: utcOffsetMinutes(info.timezone, extra.now),
    bundle_mismatch: extra.bundleMismatch,
    user_agent: extra.userAgent,
    attribution_id: attributionId,
  };
}

/**
 * How a configure merges into a stored device (the `do update set` of its upsert, for repeats and
 * for new installs alike): absent values never erase stored ones, and a device keeps the first
 * attribution id it took.
 */
export const DEVICE_MERGE = `
  platform = case when excluded.platform <> 'unknown' then excluded.platform else devices.platform end,
  installed_at = coalesce(devices.installed_at, excluded.installed_at),
  last_seen_at = excluded.last_seen_at,
  idfa = coalesce(excluded.idfa, devices.idfa),
  gaid = coalesce(excluded.gaid, devices.gaid),
  customer_user_id = coalesce(excluded.customer_user_id, devices.customer_user_id),
  app_version = coalesce(excluded.app_version, devices.app_version),
  os_version = coalesce(excluded.os_version, devices.os_version),
  model = coalesce(excluded.model, devices.model),
  locale = coalesce(excluded.locale, devices.locale),
  timezone = coalesce(excluded.timezone, devices.timezone),
  country = coalesce(devices.country, excluded.country),
  sdk_version = coalesce(excluded.sdk_version, devices.sdk_version),
  device_info = devices.device_info || excluded.device_info,
  language = coalesce(excluded.language, devices.language),
  region = coalesce(excluded.region, devices.region),
  utc_offset_minutes = coalesce(excluded.utc_offset_minutes, devices.utc_offset_minutes),
  bundle_mismatch = devices.bundle_mismatch or excluded.bundle_mismatch,
  user_agent = coalesce(excluded.user_agent, devices.user_agent),
  attribution_id = coalesce(devices.attribution_id, excluded.attribution_id)`;

/**
 * The device upsert of a repeat configure; returns the device's primary key. New installs are
 * written in batches by install-writer.ts, from the same record and with the same merge.
 */
export async function upsertConfiguredDevice(
  tx: Tx,
  key: DeviceKey,
  b: ConfigureBody,
  extra: DeviceExtra,
): Promise<{ id: string; attribution_id: string | null }> {
  const sql = tx as Sql;
  const record = JSON.stringify(deviceRecord(key, b, extra, null));
  const [row] = await sql<{ id: string; attribution_id: string | null }[]>`
    insert into devices (${sql.unsafe(DEVICE_COLUMNS)})
    select ${sql.unsafe(DEVICE_COLUMNS)}
    from jsonb_to_record(${record}::text::jsonb) as d(${sql.unsafe(DEVICE_RECORD_TYPE)})
    on conflict (app_id, environment, device_id) do update set ${sql.unsafe(DEVICE_MERGE)}
    returning id, attribution_id`;
  return row;
}

/**
 * Links a device to a customer user id: history kept in device_users (latest `linked_at` is
 * current), the current one mirrored on the device. Idempotent and cheap on repeats.
 */
export async function linkUser(
  tx: Tx,
  devicePk: string,
  appId: string,
  environment: Environment,
  userId: string,
  at: Date,
): Promise<void> {
  const sql = tx as Sql;
  await sql`
    insert into device_users (device_pk, user_id, app_id, environment, first_linked_at, linked_at)
    values (${devicePk}, ${userId}, ${appId}, ${environment}, ${at}, ${at})
    on conflict (device_pk, user_id) do update set linked_at = excluded.linked_at`;
  await sql`update devices set customer_user_id = ${userId} where id = ${devicePk} and customer_user_id is distinct from ${userId}`;
}
