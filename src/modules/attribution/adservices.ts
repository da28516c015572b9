/**
 * Apple AdServices attribution API client (docs/spec/external-apis.md §6).
 * POST the token as text/plain, byte for byte; classify the answer.
 */
import type { AsaRecord } from './waterfall.ts';

export type AdServicesAnswer =
  | { kind: 'attributed'; record: AsaRecord }
  | { kind: 'not_attributed' }
  | { kind: 'invalid_token' } // 400: permanent
  | { kind: 'not_found' } // 404: not (yet) available; retry
  | { kind: 'unavailable'; detail: string }; // 5xx, timeout, network error, unreadable body: retry

/** Apple's development builds get this id everywhere (and keywordId 12323222). */
const TEST_DATA_ID = '1234567890';

const idString = (v: unknown): string | null =>
  typeof v === 'number' && Number.isFinite(v)
    ? BigInt(Math.trunc(v)).toString()
    : typeof v === 'string' && v !== ''
      ? v
      : null;

export function parseAdServicesPayload(body: unknown): AdServicesAnswer {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return { kind: 'unavailable', detail: 'body is not a JSON object' };
  const b = body as Record<string, unknown>;
  if (b.attribution === false) return { kind: 'not_attributed' };
  if (b.attribution !== true)
    return { kind: 'unavailable', detail: 'no attribution flag in the body' };
  const record: AsaRecord = {
    orgId: idString(b.orgId),
    campaignId: idString(b.campaignId),
    adGroupId: idString(b.adGroupId),
    adId: idString(b.adId),
    keywordId: idString(b.keywordId),
    countryOrRegion: typeof b.countryOrRegion === 'string' ? b.countryOrRegion : null,
    conversionType: typeof b.conversionType === 'string' ? b.conversionType : null,
    claimType: typeof b.claimType === 'string' ? b.claimType : null,
    clickDate:
      typeof b.clickDate === 'string'
        ? b.clickDate
        : typeof b.impressionDate === 'string'
          ? b.impressionDate
          : null,
    testData: false,
  };
  record.testData = record.campaignId === TEST_DATA_ID && record.adGroupId === TEST_DATA_ID;
  return { kind: 'attributed', record };
}

/**
 * One call to Apple. `timeoutMs` bounds the whole exchange; a timeout counts as unavailable.
 * Numbers are read from the raw text so that 64-bit ids survive (JSON.parse would round them).
 */
export async function callAdServices(
  baseUrl: string,
  token: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<AdServicesAnswer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort);
  try {
    const res = await fetch(baseUrl, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: token,
      signal: controller.signal,
    });
    const text = await res.text();
    if (res.status === 200) {
      try {
        return parseAdServicesPayload(JSON.parse(quoteBigIntegers(text)));
      } catch {
        return { kind: 'unavailable', detail: 'unreadable 200 body' };
      }
    }
    if (res.status === 400) return { kind: 'invalid_token' };
    if (res.status === 404) return { kind: 'not_found' };
    return { kind: 'unavailable', detail: `HTTP ${res.status}` };
  } catch (err) {
    return {
      kind: 'unavailable',
      detail: controller.signal.aborted ? 'timeout' : String((err as Error).message ?? err),
    };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Turns integers of 16+ digits in a JSON text into strings, so no precision is lost. A number is
 * only tried from its first character (the lookbehind), so a long digit run is scanned once, not
 * once per digit (which was quadratic).
 */
export function quoteBigIntegers(json: string): string {
  return json.replace(
    /("(?:[^"\\]|\\.)*")|(?<![\w.+-])(-?\d{16,})(?![\d.eE])/g,
    (m, str: string | undefined, num: string | undefined) => (str ? m : `"${num}"`),
  );
}
