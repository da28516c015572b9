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

/** Upserts the device of a configure and returns its primary key. `installedAt` null keeps it unset. */
export type DeviceExtra = {
  installedAt: Date | null;
  now: Date;
  userAgent: string | null;
  sdkVersion: string | null;
  bundleMismatch: boolean;
  country: string | null;
};

export async function upsertConfiguredDevice(
  tx: Tx,
  key: DeviceKey,
  b: ConfigureBody,
  extra: DeviceExtra,
): Promise<{ id: string; attribution_id: string | null }> {
  const [row] = await (tx as Sql)<
    { id: string; attribution_id: string | null }[]
  >`${deviceUpsert(tx, key, b, extra)}`;
  return row;
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
 * The device upsert of a repeat configure. New installs are written in batches by
 * install-writer.ts, whose statement merges a device the same way.
 */
function deviceUpsert(tx: Tx, key: DeviceKey, b: ConfigureBody, extra: DeviceExtra) {
  const sql = tx as Sql;
  const info = b.deviceInfo;
  const { language, region } = parseLocale(info.locale);
  return sql`
    insert into devices (
      app_id, environment, device_id, platform, installed_at, first_seen_at, last_seen_at, idfa, gaid, customer_user_id,
      app_version, os_version, model, locale, timezone, country, sdk_version, device_info,
      language, region, utc_offset_minutes, bundle_mismatch, user_agent, attribution_id)
    values (
      ${key.appId}, ${key.environment}, ${key.deviceId}, ${info.platform}, ${extra.installedAt}, ${extra.now}, ${extra.now},
      ${b.idfa}, ${b.gaid}, ${b.customerUserId}, ${info.appVersion}, ${info.osVersion}, ${info.model}, ${info.locale},
      ${info.timezone}, ${extra.country}, ${extra.sdkVersion}, ${sql.json(info.raw as never)},
      ${language}, ${region}, ${utcOffsetMinutes(info.timezone, extra.now)}, ${extra.bundleMismatch}, ${extra.userAgent}, null)
    on conflict (app_id, environment, device_id) do update set ${sql.unsafe(DEVICE_MERGE)}
    returning id, attribution_id, customer_user_id`;
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
