/**
 * A received postback → the row stored for it: the fields of docs/spec/external-apis.md §7.2 / §7.4
 * read leniently (a field of the wrong type is null, never a refusal), and the verification outcome.
 * Every well-formed JSON body becomes a row; nothing here throws.
 */
import { newId } from '../../lib/crypto.ts';
import {
  decodeJws,
  isObject,
  skanVersion,
  verifyAdAttributionKit,
  verifySkadnetwork,
} from './verify.ts';

export type PostbackKind = 'skadnetwork' | 'adattributionkit';

export type PostbackRow = {
  id: string;
  kind: PostbackKind;
  dedup_key: string | null;
  app_store_id: string | null;
  version: string | null;
  verified: boolean;
  unverified_reason: string | null;
  key_id: string | null;
  sandbox: boolean;
  ad_network_id: string | null;
  source_identifier: string | null;
  campaign_id: number | null;
  source_app_id: string | null;
  source_domain: string | null;
  redownload: boolean | null;
  fidelity_type: number | null;
  did_win: boolean | null;
  conversion_type: string | null;
  window_index: number | null;
  fine_value: number | null;
  coarse_value: string | null;
  country_code: string | null;
  raw: unknown;
  received_at: Date;
};

const MAX_TEXT = 512;
const str = (v: unknown): string | null =>
  typeof v === 'string' && v !== ''
    ? v.slice(0, MAX_TEXT)
    : typeof v === 'number' && Number.isSafeInteger(v)
      ? String(v)
      : null;
const int = (v: unknown, min: number, max: number): number | null => {
  const n = typeof v === 'string' && /^-?\d{1,15}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
};
const bool = (v: unknown): boolean | null =>
  typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : null;
const coarse = (v: unknown): string | null =>
  v === 'low' || v === 'medium' || v === 'high' ? v : null;
const digits = (v: unknown): string | null => {
  const s = str(v);
  return s && /^\d{1,20}$/.test(s) ? s : null;
};

/**
 * PostgreSQL text and jsonb hold no U+0000 and no lone surrogate: either, anywhere in the body
 * (keys included), is stored as U+FFFD. Apple never sends one; a body that does cannot have a valid signature anyway.
 */
export function withoutNul(v: unknown): unknown {
  if (typeof v === 'string') {
    // Lone surrogates too (JSON allows them, jsonb does not): U+FFFD.
    const wf = (v as unknown as { toWellFormed(): string }).toWellFormed();
    return wf.includes('\0') ? wf.replaceAll('\0', '\uFFFD') : wf;
  }
  if (Array.isArray(v)) return v.map(withoutNul);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[withoutNul(k) as string] = withoutNul(x);
    return out;
  }
  return v;
}

/** The framework of a body: a `jws-string` makes it AdAttributionKit, whichever receiver path it came to. */
export const kindOf = (body: unknown): PostbackKind =>
  isObject(body) && 'jws-string' in body ? 'adattributionkit' : 'skadnetwork';

const empty = (
  kind: PostbackKind,
  raw: unknown,
  receivedAt: Date,
): Omit<PostbackRow, 'verified' | 'unverified_reason' | 'key_id'> => ({
  id: newId('skp'),
  kind,
  dedup_key: null,
  app_store_id: null,
  version: null,
  sandbox: false,
  ad_network_id: null,
  source_identifier: null,
  campaign_id: null,
  source_app_id: null,
  source_domain: null,
  redownload: null,
  fidelity_type: null,
  did_win: null,
  conversion_type: null,
  window_index: null,
  fine_value: null,
  coarse_value: null,
  country_code: null,
  raw,
  received_at: receivedAt,
});

/** The row for a parsed JSON body (any JSON value). */
export function toPostbackRow(
  body: unknown,
  opts: { allowDevelopmentKeys: boolean; receivedAt: Date },
): PostbackRow {
  const raw = withoutNul(body);
  const kind = kindOf(body);
  if (!isObject(body)) {
    return {
      ...empty(kind, raw, opts.receivedAt),
      verified: false,
      unverified_reason: 'not_an_object',
      key_id: null,
    };
  }
  return kind === 'skadnetwork'
    ? skadnetworkRow(body, raw, opts.receivedAt)
    : adAttributionKitRow(body, raw, opts);
}

function skadnetworkRow(
  body: Record<string, unknown>,
  raw: unknown,
  receivedAt: Date,
): PostbackRow {
  const v = verifySkadnetwork(body);
  const p = raw as Record<string, unknown>;
  const sourceAppId = digits(p['source-app-id']);
  return {
    ...empty('skadnetwork', raw, receivedAt),
    dedup_key: str(p['transaction-id']),
    app_store_id: digits(p['app-id']),
    version: skanVersion(p).slice(0, 16),
    verified: v.verified,
    unverified_reason: v.verified ? null : v.reason,
    key_id: v.verified ? v.keyId : null,
    // Test postbacks (development-signed source app) carry source-app-id 0 (§7.2).
    sandbox: sourceAppId === '0',
    ad_network_id: str(p['ad-network-id']),
    source_identifier: str(p['source-identifier']),
    campaign_id: int(p['campaign-id'], 0, 1_000_000),
    source_app_id: sourceAppId,
    source_domain: str(p['source-domain']),
    redownload: bool(p.redownload),
    fidelity_type: int(p['fidelity-type'], 0, 1_000),
    did_win: bool(p['did-win']),
    window_index:
      p['postback-sequence-index'] === undefined ? 0 : int(p['postback-sequence-index'], 0, 2),
    fine_value: int(p['conversion-value'], 0, 63),
    coarse_value: coarse(p['coarse-conversion-value']),
  };
}

function adAttributionKitRow(
  body: Record<string, unknown>,
  raw: unknown,
  opts: { allowDevelopmentKeys: boolean; receivedAt: Date },
): PostbackRow {
  const jws = body['jws-string'];
  const v = verifyAdAttributionKit(jws, opts.allowDevelopmentKeys);
  const outer = raw as Record<string, unknown>;
  const d = typeof jws === 'string' ? decodeJws(jws) : null;
  const p = (d ? withoutNul(d.payload) : {}) as Record<string, unknown>;
  const kid = d && typeof d.header.kid === 'string' ? d.header.kid : null;
  const conversionType = str(p['conversion-type']);
  const publisher = digits(p['publisher-item-identifier']);
  return {
    ...empty('adattributionkit', raw, opts.receivedAt),
    dedup_key: str(p['postback-identifier']),
    app_store_id: digits(p['advertised-item-identifier']),
    verified: v.verified,
    unverified_reason: v.verified ? null : v.reason,
    key_id: v.verified ? v.keyId : null,
    // Development-key postbacks are test postbacks, verified or not; so is a publisher item id 0.
    sandbox: (kid !== null && kid.startsWith('apple-development-identifier/')) || publisher === '0',
    ad_network_id: str(p['ad-network-identifier']),
    source_identifier: str(p['source-identifier']),
    source_app_id: publisher,
    redownload: conversionType === null ? null : conversionType === 'redownload',
    did_win: bool(p['did-win']),
    conversion_type: conversionType,
    window_index: int(p['postback-sequence-index'], 0, 2),
    fine_value: int(outer['conversion-value'], 0, 63),
    coarse_value: coarse(outer['coarse-conversion-value']),
    country_code: str(outer['country-code'])?.slice(0, 8) ?? null,
  };
}
