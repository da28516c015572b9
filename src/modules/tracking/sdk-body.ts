/**
 * Lenient reading of SDK request bodies (docs/spec/sdk-protocol.md §3.4): plain functions, no zod on the hot
 * path. Wrong types on optional fields are ignored, `null` is absent, `""` is absent for the
 * optional strings; only the required fields produce errors.
 */
import { hash } from 'node:crypto';
import { hasNul, NUL_MESSAGE, truncate } from '../../lib/text.ts';

export class BodyError extends Error {
  constructor(
    readonly code: 'invalid_json' | 'validation_error',
    message: string,
  ) {
    super(message);
  }
}

/** Longest accepted `device_id`, `event_name`, `event_id` (they are indexed; see docs/sdk-ingestion.md). */
export const MAX_ID_LENGTH = 512;
/** Revenue above this (absolute, major units) is stored, flagged `revenue_implausible`, never forwarded. */
export const IMPLAUSIBLE_REVENUE = 100_000;
/**
 * The largest amount (absolute, major units of its currency) stored as revenue. Beyond it the
 * event is stored without revenue (the raw value kept in `revenue_raw`), flagged
 * `revenue_out_of_range`: one event can never push a report out of range.
 */
export const MAX_REVENUE = 1e9;
/** Numeric strings longer than this are not read as revenue (no number needs more). */
const MAX_REVENUE_TEXT = 64;
/** A decimal number, optionally signed, with an exponent: unambiguous, so matching is linear. */
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Nesting kept in stored JSON (properties, device_info); deeper values become null. */
const MAX_DEPTH = 32;
/**
 * Largest `properties` stored, as JSON bytes (a 100 KB event is legitimate: §3.4). Larger ones are
 * replaced by `{"_dropped": {"bytes", "sha256"}}` and the event is flagged `properties_dropped`;
 * the event itself is kept and answered 200 (a 4xx is final for the SDKs: the event would be lost).
 */
export const MAX_PROPERTIES_BYTES = 256 * 1024;

type Obj = Record<string, unknown>;

/** Body bytes → a JSON object, decoded as UTF-8 whatever the charset parameter said. */
export function parseJsonObject(raw: Buffer | string | undefined): Obj {
  const text = typeof raw === 'string' ? raw : raw ? raw.toString('utf8') : '';
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    throw new BodyError('invalid_json', 'Body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new BodyError('invalid_json', 'Body must be a JSON object');
  }
  return value as Obj;
}

/**
 * A string PostgreSQL can store: lone surrogates become U+FFFD (they are invalid in UTF-8 and in
 * jsonb) and NUL characters are dropped (text and jsonb refuse them).
 */
export function storable(s: string): string {
  const wf = (s as unknown as { toWellFormed(): string }).toWellFormed();
  return wf.includes('\u0000') ? wf.replaceAll('\u0000', '') : wf;
}

/** A JSON value made storable in jsonb: strings cleaned (keys too), non-finite numbers null, depth capped. */
export function storableJson(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return storable(v);
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v !== 'object') return null;
  if (depth >= MAX_DEPTH) return null;
  if (Array.isArray(v)) return v.map((x) => storableJson(x, depth + 1));
  const out: Obj = Object.create(null); // a "__proto__" key stays an ordinary key
  for (const [k, x] of Object.entries(v as Obj)) out[storable(k)] = storableJson(x, depth + 1);
  return out;
}

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** An optional string: absent when null, "", not a string, or longer than `max` characters. */
export function optString(v: unknown, max = MAX_ID_LENGTH): string | null {
  if (typeof v !== 'string' || v === '' || v.length > max) return null;
  return storable(v);
}

/** An optional integer (Unix seconds and the like); non-finite or non-numbers are absent. */
function optInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : null;
}

function requiredId(body: Obj, field: 'device_id' | 'event_name'): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '')
    throw new BodyError('validation_error', `${field} is required and must be a non-empty string`);
  if (v.length > MAX_ID_LENGTH)
    throw new BodyError('validation_error', `${field} is longer than ${MAX_ID_LENGTH} characters`);
  return storable(v);
}

export type DeviceInfo = {
  platform: string;
  appVersion: string | null;
  appBuild: string | null;
  bundleId: string | null;
  locale: string | null;
  timezone: string | null;
  osVersion: string | null;
  model: string | null;
  /** Every key as sent (nulls dropped), for the debugger. */
  raw: Obj;
};

export type ConfigureBody = {
  deviceId: string;
  deviceInfo: DeviceInfo;
  asaToken: string | null;
  idfa: string | null;
  gaid: string | null;
  installReferrer: string | null;
  arClickId: string | null;
  referrerClickTs: number | null;
  referrerInstallTs: number | null;
  sdkVersion: string | null;
  customerUserId: string | null;
  legacyAppId: string | null;
};

function readDeviceInfo(v: unknown): DeviceInfo {
  const d = isObj(v) ? v : {};
  const s = (k: string) =>
    typeof d[k] === 'string' ? truncate(storable(d[k] as string), 256) : null;
  const raw: Obj = Object.create(null);
  for (const [k, x] of Object.entries(d)) if (x !== null) raw[storable(k)] = storableJson(x, 1);
  const platform = s('platform')?.trim().toLowerCase();
  return {
    platform: platform || 'unknown',
    appVersion: s('app_version') || null,
    appBuild: typeof d.app_build === 'number' ? String(d.app_build) : s('app_build'),
    bundleId: s('bundle_id') || null,
    locale: s('locale') || null,
    timezone: s('timezone') || null,
    osVersion: s('os_version') || (typeof d.os_version === 'number' ? String(d.os_version) : null),
    model: s('model') || null,
    raw,
  };
}

export function readConfigureBody(body: Obj): ConfigureBody {
  const deviceId = requiredId(body, 'device_id');
  const sdkVersion = optString(body.sdk_version, 64);
  return {
    deviceId,
    deviceInfo: readDeviceInfo(body.device_info),
    asaToken: optString(body.asa_token, 16_384),
    idfa: optString(body.idfa, 64),
    gaid: optString(body.gaid, 64),
    installReferrer: optString(body.install_referrer, 8_192),
    arClickId: optString(body.ar_click_id, 128),
    referrerClickTs: optInt(body.referrer_click_ts),
    referrerInstallTs: optInt(body.referrer_install_ts),
    sdkVersion,
    customerUserId: optString(body.customer_user_id),
    legacyAppId: optString(body.app_id, 128),
  };
}

export type EventBody = {
  deviceId: string;
  eventName: string;
  properties: Obj;
  revenue: number | null;
  revenueRaw: string | null;
  currency: string | null;
  currencyRaw: string | null;
  eventId: string | null;
  advancedMatching: Record<string, string>;
  legacyAppId: string | null;
  implausibleRevenue: boolean;
  /** |revenue| > MAX_REVENUE: `revenue` is then null (the raw value is in `revenueRaw`). */
  revenueOutOfRange: boolean;
  /** `properties` were over MAX_PROPERTIES_BYTES and replaced by their size and hash. */
  propertiesDropped: boolean;
};

/** A finite number from a JSON number or numeric string; anything else is absent. */
export function readRevenue(v: unknown): { value: number | null; raw: string | null } {
  if (typeof v === 'number') return { value: Number.isFinite(v) ? v : null, raw: String(v) };
  if (typeof v === 'string') {
    const t = v.trim();
    const raw = truncate(storable(v), 64);
    if (t.length > MAX_REVENUE_TEXT || !NUMERIC.test(t)) return { value: null, raw };
    const n = Number(t);
    return { value: Number.isFinite(n) ? n : null, raw };
  }
  return { value: null, raw: null };
}

/** ISO-4217 shape after trim + upper case; anything else is absent (the raw string is kept). */
export function normaliseCurrency(v: unknown): { code: string | null; raw: string | null } {
  if (typeof v !== 'string') return { code: null, raw: null };
  const code = v.trim().toUpperCase();
  return {
    code: /^[A-Z]{3}$/.test(code) ? code : null,
    raw: v === '' ? null : truncate(storable(v), 64),
  };
}

const HEX64 = /^[0-9a-f]{64}$/;
const MATCH_KEYS = ['em', 'ph', 'fn', 'ln', 'db'] as const;
/** sha256("") — an empty input hashed on the device counts as absent (§6). */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Hashed identifiers (§5.4): 64-hex values kept lower-cased; plaintext is hashed by §6's rules. */
export function readAdvancedMatching(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObj(v)) return out;
  for (const k of MATCH_KEYS) {
    const raw = v[k];
    if (typeof raw !== 'string' || raw.trim() === '') continue;
    const lower = raw.trim().toLowerCase();
    const hash = HEX64.test(lower) ? lower : hashIdentifier(k, raw);
    if (hash && hash !== EMPTY_SHA256) out[k] = hash;
  }
  return out;
}

/** §6 normalisation, for plaintext that reached us by mistake (never stored as is). */
export function hashIdentifier(key: (typeof MATCH_KEYS)[number], input: string): string | null {
  let n: string;
  if (key === 'ph') n = input.replace(/\D/g, '');
  else if (key === 'db') {
    const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(input.trim());
    n = m ? `${m[1]}${m[2]}${m[3]}` : input.trim();
  } else n = input.trim().toLowerCase();
  if (!n) return null;
  return hash('sha256', n, 'hex');
}

export function readEventBody(body: Obj): EventBody {
  const deviceId = requiredId(body, 'device_id');
  const eventName = requiredId(body, 'event_name');
  const properties = isObj(body.properties) ? (storableJson(body.properties) as Obj) : {};
  const params = isObj(body.params) ? body.params : {};

  // Revenue: top level, else inside properties, else inside a top-level params object.
  let rev = readRevenue(body.revenue);
  if (rev.value === null && rev.raw === null) rev = readRevenue(properties.revenue);
  if (rev.value === null && rev.raw === null) rev = readRevenue(params.revenue);
  let cur = normaliseCurrency(body.currency);
  if (cur.raw === null) cur = normaliseCurrency(properties.currency);
  if (cur.raw === null) cur = normaliseCurrency(params.currency);

  const eventIdRaw = body.event_id;
  let eventId: string | null = null;
  if (typeof eventIdRaw === 'string' && eventIdRaw !== '') {
    if (eventIdRaw.length > MAX_ID_LENGTH)
      throw new BodyError(
        'validation_error',
        `event_id is longer than ${MAX_ID_LENGTH} characters`,
      );
    eventId = storable(eventIdRaw);
  } else if (typeof eventIdRaw === 'number' && Number.isFinite(eventIdRaw)) {
    eventId = String(eventIdRaw);
  }

  const outOfRange = rev.value !== null && !(Math.abs(rev.value) <= MAX_REVENUE);
  const kept = capProperties(properties);
  return {
    deviceId,
    eventName,
    properties: kept ?? properties,
    revenue: outOfRange ? null : rev.value,
    revenueRaw: rev.raw,
    currency: cur.code,
    currencyRaw: cur.raw,
    eventId,
    advancedMatching:
      eventName === '_advanced_matching' ? readAdvancedMatching(body.advanced_matching) : {},
    legacyAppId: optString(body.app_id, 128),
    implausibleRevenue: rev.value !== null && Math.abs(rev.value) > IMPLAUSIBLE_REVENUE,
    revenueOutOfRange: outOfRange,
    propertiesDropped: kept !== null,
  };
}

/**
 * Properties over MAX_PROPERTIES_BYTES → what is stored instead (their size and the SHA-256 of
 * their canonical JSON, so that two different dropped payloads never look like duplicates), else null.
 */
export function capProperties(properties: Obj): Obj | null {
  const json = JSON.stringify(properties);
  // A UTF-16 unit is at most 3 bytes of UTF-8: short texts need no exact count.
  if (json.length * 3 <= MAX_PROPERTIES_BYTES) return null;
  const bytes = Buffer.byteLength(json);
  if (bytes <= MAX_PROPERTIES_BYTES) return null;
  const sha256 = hash('sha256', canonicalJson(properties), 'hex');
  return { _dropped: { bytes, sha256 } };
}

/**
 * The body's `app_id` when it is the credential (SDK 0.1.0): an id with a NUL can match no app
 * and cannot be looked up, so it is a 400 naming the field.
 */
export function bodyAppId(body: Obj | null): string | null {
  const v = body?.app_id;
  if (typeof v !== 'string' || v === '') return null;
  if (hasNul(v)) throw new BodyError('validation_error', `app_id ${NUL_MESSAGE}`);
  return v;
}

/** Canonical JSON: object keys sorted at every depth, so key order never changes a fingerprint. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Obj;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * Dedup fingerprint of an event without event_id (§5.5): the first 128 bits of a SHA-256 over the
 * app, the environment and the event, as 32 hex digits (a uuid in `event_fingerprints`, whose key
 * it is alone: migration 0020).
 */
export function eventFingerprint(
  appId: string,
  environment: string,
  e: Pick<EventBody, 'deviceId' | 'eventName' | 'properties' | 'revenue' | 'currency'>,
): string {
  return hash(
    'sha256',
    JSON.stringify([
      appId,
      environment,
      e.deviceId,
      e.eventName,
      canonicalJson(e.properties),
      e.revenue,
      e.currency,
    ]),
    'hex',
  ).slice(0, 32);
}
