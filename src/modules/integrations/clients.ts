/**
 * One request to a network for a batch of deliveries, and its answer classified per row by
 * docs/spec/external-apis.md (§1.7 Meta, §2.2 TikTok, §3.2–3.4 Google):
 * ok (delivered, including "already recorded"), retry (R; `retryAfterS` for R-later),
 * permanent (P), credentials (C: the integration is paused until new credentials), or
 * split (the batch failed as a whole on one bad event: send the events one by one).
 */
import type { Credentials } from './store.ts';

export type Outcome =
  | { kind: 'ok' }
  | { kind: 'retry'; error: string; retryAfterS?: number }
  | { kind: 'permanent'; error: string }
  | { kind: 'credentials'; error: string };

export type BatchResult = {
  httpStatus: number | null;
  response: unknown;
  /**
   * The answer narrowed to each event, in order, when it speaks of each row (Google): a delivery's
   * audit log keeps its own part. Otherwise every delivery of the batch keeps `response`.
   */
  rowResponses?: unknown[];
  /** One per event, in order; or `split` to resend them one by one. */
  rows: Outcome[] | 'split';
};

export type HttpOptions = { timeoutMs: number };

type HttpAnswer = { status: number; headers: Headers; body: unknown; text: string };

/** A POST/GET with a timeout; network errors and timeouts throw. */
export async function httpCall(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
  { timeoutMs }: HttpOptions,
): Promise<HttpAnswer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: kept as text */
  }
  return { status: res.status, headers: res.headers, body, text };
}

const all = (n: number, o: Outcome): Outcome[] => Array.from({ length: n }, () => o);

/** A network failure (timeout, reset, refused) is a retry: the rows were maybe received, and resends are deduplicated. */
export function transportFailure(err: unknown, n: number): BatchResult {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const what =
    e?.name === 'TimeoutError' || e?.name === 'AbortError'
      ? 'timeout'
      : (e?.cause?.code ?? e?.cause?.message ?? e?.message ?? 'network error');
  return {
    httpStatus: null,
    response: null,
    rows: all(n, { kind: 'retry', error: `network: ${what}` }),
  };
}

/** Retry-After as seconds (delta or HTTP date). */
export function retryAfterHeader(h: Headers): number | undefined {
  const v = h.get('retry-after');
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, Math.ceil((t - Date.now()) / 1000));
}

// ---- Meta (§1.7) -------------------------------------------------------------------------------

export function classifyMeta(a: HttpAnswer, n: number): BatchResult {
  const base = { httpStatus: a.status, response: a.body };
  if (a.status >= 200 && a.status < 300) return { ...base, rows: all(n, { kind: 'ok' }) };
  const err = (a.body as { error?: Record<string, unknown> } | null)?.error;
  const code = typeof err?.code === 'number' ? err.code : null;
  const message = `meta ${code ?? a.status}: ${typeof err?.message === 'string' ? err.message : a.text.slice(0, 200)}`;
  const one = (o: Outcome): BatchResult => ({ ...base, rows: all(n, o) });
  if (err?.is_transient === true) return one({ kind: 'retry', error: message });
  if (code === null)
    return one(
      a.status >= 500 || a.status === 429
        ? { kind: 'retry', error: message, retryAfterS: retryAfterHeader(a.headers) }
        : { kind: 'permanent', error: message },
    );
  if (code === 1 || code === 2) return one({ kind: 'retry', error: message });
  if ([4, 17, 32, 613, 341].includes(code) || (code >= 80000 && code <= 80014))
    return one({
      kind: 'retry',
      error: message,
      retryAfterS: retryAfterHeader(a.headers) ?? RATE_LIMIT_PAUSE_S,
    });
  if (code === 190 || code === 102 || code === 10 || code === 368 || (code >= 200 && code <= 299))
    return one({ kind: 'credentials', error: message });
  if (code === 100 && n > 1) return { ...base, rows: 'split' };
  if (a.status >= 500) return one({ kind: 'retry', error: message });
  return one({ kind: 'permanent', error: message });
}

/** Rate limits without a Retry-After: wait at least this long (Meta says "minutes, growing"). */
export const RATE_LIMIT_PAUSE_S = 300;

export async function sendMeta(
  baseUrl: string,
  c: Credentials,
  events: object[],
  http: HttpOptions,
): Promise<BatchResult> {
  const body: Record<string, unknown> = { data: events, access_token: c.accessToken };
  if (c.testEventCode) body.test_event_code = c.testEventCode;
  try {
    const a = await httpCall(
      `${baseUrl}${encodeURIComponent(c.datasetId ?? '')}/events`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
      http,
    );
    return classifyMeta(a, events.length);
  } catch (err) {
    return transportFailure(err, events.length);
  }
}

// ---- TikTok (§2.2) -----------------------------------------------------------------------------

const TIKTOK_P = new Set([40000, 40002, 40062, 40063]);
const TIKTOK_C = new Set([40001, 40003, 40113, 40117, 40118, 40102, 40104, 40105, 40107]);
const TIKTOK_LATER = new Set([40100, 40132, 61000, 60001]);

export function classifyTiktok(a: HttpAnswer, n: number): BatchResult {
  const base = { httpStatus: a.status, response: a.body };
  const one = (o: Outcome): BatchResult => ({ ...base, rows: all(n, o) });
  if (a.status >= 500 || a.status === 429)
    return one({
      kind: 'retry',
      error: `tiktok HTTP ${a.status}`,
      retryAfterS: retryAfterHeader(a.headers),
    });
  const b = a.body as { code?: unknown; message?: unknown } | null;
  const code = typeof b?.code === 'number' ? b.code : null;
  const message = `tiktok ${code ?? a.status}: ${typeof b?.message === 'string' ? b.message : a.text.slice(0, 200)}`;
  if (code === 0 && a.status < 300) return one({ kind: 'ok' });
  if (code === null) return one({ kind: 'permanent', error: message });
  if (code === 20001)
    return n > 1 ? { ...base, rows: 'split' } : one({ kind: 'permanent', error: message });
  if (TIKTOK_P.has(code))
    return n > 1 ? { ...base, rows: 'split' } : one({ kind: 'permanent', error: message });
  if (TIKTOK_C.has(code)) return one({ kind: 'credentials', error: message });
  if (TIKTOK_LATER.has(code))
    return one({
      kind: 'retry',
      error: message,
      retryAfterS: retryAfterHeader(a.headers) ?? RATE_LIMIT_PAUSE_S,
    });
  if (code === 50000 || code === 50002 || (code >= 51000 && code < 53000))
    return one({ kind: 'retry', error: message });
  return one({ kind: 'permanent', error: message });
}

export async function sendTiktok(
  baseUrl: string,
  c: Credentials,
  events: object[],
  http: HttpOptions,
): Promise<BatchResult> {
  const body: Record<string, unknown> = {
    event_source: 'web',
    event_source_id: c.pixelCode,
  };
  if (c.testEventCode) body.test_event_code = c.testEventCode;
  body.data = events;
  try {
    const a = await httpCall(
      `${baseUrl}event/track/`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'access-token': c.accessToken ?? '' },
        body: JSON.stringify(body),
      },
      http,
    );
    return classifyTiktok(a, events.length);
  } catch (err) {
    return transportFailure(err, events.length);
  }
}

// ---- Google (§3.2–3.4) -------------------------------------------------------------------------

const GOOGLE_ROW_OK = new Set([
  'CLICK_CONVERSION_ALREADY_EXISTS',
  'ORDER_ID_ALREADY_IN_USE',
  'DUPLICATE_CLICK_CONVERSION_IN_REQUEST',
  'DUPLICATE_ORDER_ID',
]);
const GOOGLE_ROW_LATER = new Set([
  'TOO_RECENT_EVENT',
  'TOO_RECENT_GCLID',
  'TOO_RECENT_CONVERSION_ACTION',
]);
const GOOGLE_ROW_C = new Set([
  'UNAUTHORIZED_CUSTOMER',
  'INVALID_CUSTOMER_FOR_CLICK',
  'CONVERSION_TRACKING_NOT_ENABLED_AT_IMPRESSION_TIME',
  'NO_CONVERSION_ACTION_FOUND',
  'INVALID_CONVERSION_ACTION_TYPE',
  'CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS',
  'CUSTOMER_DATA_POLICY_PROHIBITS_ENHANCED_CONVERSIONS',
]);
/** TOO_RECENT_*: the click or the action is less than 6 h old. */
const TOO_RECENT_PAUSE_S = 6 * 3600;

type GoogleError = {
  errorCode?: Record<string, string>;
  message?: string;
  location?: { fieldPathElements?: { fieldName?: string; index?: number }[] };
};

/** The conversion a partial-failure error is about (`location.fieldPathElements`). */
const rowIndex = (e: GoogleError): number | undefined => {
  const idx = e.location?.fieldPathElements?.find((f) => f.fieldName === 'conversions')?.index;
  return typeof idx === 'number' && idx >= 0 ? idx : undefined;
};

/**
 * A 200 answer of uploadClickConversions narrowed to each of its `n` conversions: its result and
 * its own errors (as Google numbered them), with the answer's other fields (jobId, requestId…).
 * Each delivery's audit log keeps its own: the whole answer to a 2 000-row batch, stored on each
 * of its 2 000 deliveries, would grow with the square of the batch.
 */
export function googleRowAnswers(body: unknown, n: number): unknown[] {
  if (!body || typeof body !== 'object') return Array(n).fill(body);
  const b = body as { results?: unknown[]; partialFailureError?: { details?: unknown } };
  const pfe = b.partialFailureError;
  // Each detail's errors grouped by the conversion they name, once for the whole batch.
  const details = (Array.isArray(pfe?.details) ? pfe.details : []).map((d) => {
    const errors = (d as { errors?: unknown }).errors;
    const byRow = new Map<number, GoogleError[]>();
    for (const e of Array.isArray(errors) ? (errors as GoogleError[]) : []) {
      const idx = rowIndex(e);
      if (idx === undefined) continue;
      const list = byRow.get(idx);
      if (list) list.push(e);
      else byRow.set(idx, [e]);
    }
    return { detail: d as object, hasErrors: Array.isArray(errors), byRow };
  });
  return Array.from({ length: n }, (_, i) => {
    const { partialFailureError: _whole, ...out } = b as Record<string, unknown>;
    if (Array.isArray(b.results)) out.results = [b.results[i] ?? {}];
    const own = details.flatMap(({ detail, hasErrors, byRow }) => {
      if (!hasErrors) return [detail];
      const errors = byRow.get(i);
      return errors ? [{ ...detail, errors }] : [];
    });
    if (pfe && own.length) out.partialFailureError = { ...pfe, details: own };
    return out;
  });
}

function googleErrors(details: unknown): GoogleError[] {
  if (!Array.isArray(details)) return [];
  return details.flatMap((d) =>
    Array.isArray((d as { errors?: unknown }).errors)
      ? (d as { errors: GoogleError[] }).errors
      : [],
  );
}

/** `"30s"` / `"1.5s"` anywhere in a Google error body (quotaErrorDetails.retryDelay). */
function retryDelayOf(body: unknown): number | undefined {
  const m = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(JSON.stringify(body ?? null));
  return m ? Math.ceil(Number(m[1])) : undefined;
}

function classifyGoogleRow(e: GoogleError): Outcome {
  const value = Object.values(e.errorCode ?? {})[0] ?? 'UNKNOWN';
  const error = `google ${value}: ${e.message ?? ''}`.trim();
  if (GOOGLE_ROW_OK.has(value)) return { kind: 'ok' };
  if (GOOGLE_ROW_LATER.has(value)) return { kind: 'retry', error, retryAfterS: TOO_RECENT_PAUSE_S };
  if (GOOGLE_ROW_C.has(value) || value.startsWith('EXTERNAL_ATTRIBUTION_DATA_'))
    return { kind: 'credentials', error };
  return { kind: 'permanent', error };
}

/** The answer of uploadClickConversions; 401 is handled by the caller (one token refresh). */
export function classifyGoogle(a: HttpAnswer, n: number): BatchResult {
  const base = { httpStatus: a.status, response: a.body };
  const one = (o: Outcome): BatchResult => ({ ...base, rows: all(n, o) });
  const body = a.body as {
    results?: unknown[];
    partialFailureError?: { details?: unknown };
    error?: { message?: string; status?: string; details?: unknown };
  } | null;
  if (a.status === 200) {
    const rows: Outcome[] = all(n, { kind: 'ok' });
    const failed = new Map<number, GoogleError>();
    for (const e of googleErrors(body?.partialFailureError?.details)) {
      const idx = rowIndex(e);
      if (idx !== undefined && idx < n && !failed.has(idx)) failed.set(idx, e);
    }
    for (let i = 0; i < n; i++) {
      const e = failed.get(i);
      if (e) rows[i] = classifyGoogleRow(e);
      else if (body?.results && !(body.results[i] && Object.keys(body.results[i] as object).length))
        rows[i] = { kind: 'permanent', error: 'google: empty result without an error' };
    }
    return { ...base, rows, rowResponses: googleRowAnswers(a.body, n) };
  }
  const first = googleErrors(body?.error?.details)[0];
  const code = first ? Object.values(first.errorCode ?? {})[0] : undefined;
  const message = `google ${a.status} ${body?.error?.status ?? ''}${code ? ` ${code}` : ''}: ${body?.error?.message ?? a.text.slice(0, 200)}`;
  if (a.status === 401 || a.status === 403) return one({ kind: 'credentials', error: message });
  if (a.status === 429)
    return one({
      kind: 'retry',
      error: message,
      retryAfterS: retryDelayOf(a.body) ?? retryAfterHeader(a.headers) ?? RATE_LIMIT_PAUSE_S,
    });
  if (a.status >= 500) return one({ kind: 'retry', error: message });
  return one({ kind: 'permanent', error: message });
}

/** Access tokens per integration, refreshed when within 60 s of expiry (§3.4). */
export class GoogleTokens {
  private cache = new Map<string, { token: string; expiresAt: number; fingerprint: string }>();

  constructor(private readonly tokenUrl: string) {}

  invalidate(key: string) {
    this.cache.delete(key);
  }

  /** The cached token, or a refreshed one; throws a classified failure. */
  async get(key: string, c: Credentials, http: HttpOptions): Promise<string> {
    const fingerprint = `${c.clientId}\u0000${c.clientSecret}\u0000${c.refreshToken}`;
    const hit = this.cache.get(key);
    if (hit && hit.fingerprint === fingerprint && hit.expiresAt > Date.now()) return hit.token;
    const form = new URLSearchParams({
      client_id: c.clientId ?? '',
      client_secret: c.clientSecret ?? '',
      refresh_token: c.refreshToken ?? '',
      grant_type: 'refresh_token',
    });
    const a = await httpCall(
      this.tokenUrl,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      },
      http,
    );
    const b = a.body as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    } | null;
    if (a.status === 200 && typeof b?.access_token === 'string') {
      const ttl = typeof b.expires_in === 'number' ? b.expires_in : 3600;
      this.cache.set(key, {
        token: b.access_token,
        expiresAt: Date.now() + (ttl - 60) * 1000,
        fingerprint,
      });
      return b.access_token;
    }
    const message =
      `google oauth ${a.status}: ${b?.error ?? ''} ${b?.error_description ?? ''}`.trim();
    if (a.status >= 500) throw new OAuthFailure({ kind: 'retry', error: message }, a);
    if (b?.error === 'invalid_grant' || b?.error === 'invalid_client' || a.status === 401)
      throw new OAuthFailure({ kind: 'credentials', error: message }, a);
    throw new OAuthFailure({ kind: 'permanent', error: message }, a);
  }
}

export class OAuthFailure extends Error {
  constructor(
    readonly outcome: Outcome,
    readonly answer: HttpAnswer,
  ) {
    super('error' in outcome ? outcome.error : 'oauth failure');
  }
}

export function googleHeaders(c: Credentials, token: string): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${token}`,
    'developer-token': c.developerToken ?? '',
  };
  if (c.loginCustomerId) h['login-customer-id'] = c.loginCustomerId;
  return h;
}

export async function sendGoogle(
  baseUrl: string,
  tokens: GoogleTokens,
  key: string,
  c: Credentials,
  conversions: object[],
  http: HttpOptions,
): Promise<BatchResult> {
  const n = conversions.length;
  const url = `${baseUrl}${c.apiVersion ?? 'v22'}/customers/${c.customerId}:uploadClickConversions`;
  const body = JSON.stringify({ conversions, partialFailure: true, validateOnly: false });
  try {
    for (let refreshed = false; ; refreshed = true) {
      const token = await tokens.get(key, c, http);
      const a = await httpCall(
        url,
        { method: 'POST', headers: googleHeaders(c, token), body },
        http,
      );
      // An expired or revoked access token: exactly one refresh, then the answer stands.
      if (a.status === 401 && !refreshed) {
        tokens.invalidate(key);
        continue;
      }
      return classifyGoogle(a, n);
    }
  } catch (err) {
    if (err instanceof OAuthFailure)
      return {
        httpStatus: err.answer.status,
        response: err.answer.body,
        rows: all(n, err.outcome),
      };
    return transportFailure(err, n);
  }
}
