/**
 * The error classes of docs/spec/external-apis.md as tables: each network answer → what happens
 * to the delivery (ok, retry [after], permanent, credentials, split the batch).
 */
import { describe, expect, it } from 'vitest';
import { backoffSeconds } from './sender.ts';
import { classifyGoogle, classifyMeta, classifyTiktok, type BatchResult } from './clients.ts';

const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
  status,
  headers: new Headers(headers),
  body,
  text: JSON.stringify(body),
});
const kinds = (r: BatchResult) =>
  r.rows === 'split'
    ? 'split'
    : r.rows.map((o) => (o.kind === 'retry' && o.retryAfterS ? `retry ${o.retryAfterS}s` : o.kind));

describe('Meta (§1.7)', () => {
  const err = (code: number, extra: object = {}) => ({ error: { message: 'm', code, ...extra } });
  it.each([
    ['success', 200, { events_received: 2 }, {}, ['ok', 'ok']],
    ['1 unknown', 500, err(1), {}, ['retry', 'retry']],
    ['2 temporarily unavailable', 500, err(2), {}, ['retry', 'retry']],
    ['is_transient', 400, err(100, { is_transient: true }), {}, ['retry', 'retry']],
    ['17 rate limit', 400, err(17), {}, ['retry 300s', 'retry 300s']],
    ['613 with Retry-After', 400, err(613), { 'retry-after': '120' }, ['retry 120s', 'retry 120s']],
    ['80004 business-use-case limit', 400, err(80004), {}, ['retry 300s', 'retry 300s']],
    [
      '190 expired token',
      400,
      err(190, { error_subcode: 463 }),
      {},
      ['credentials', 'credentials'],
    ],
    ['200 permission', 403, err(200), {}, ['credentials', 'credentials']],
    ['368 policy block', 400, err(368), {}, ['credentials', 'credentials']],
    ['100 in a batch: one by one', 400, err(100), {}, 'split'],
    ['bare 503', 503, 'unavailable', {}, ['retry', 'retry']],
  ])('%s', (_n, status, body, headers, expected) => {
    expect(kinds(classifyMeta(answer(status, body, headers), 2))).toEqual(expected);
  });
  it('100 for a single event is permanent', () => {
    expect(kinds(classifyMeta(answer(400, { error: { code: 100, message: 'm' } }), 1))).toEqual([
      'permanent',
    ]);
  });
});

describe('TikTok (§2.2)', () => {
  it.each([
    [0, ['ok']],
    [40002, ['permanent']],
    [40001, ['credentials']],
    [40105, ['credentials']],
    [40100, ['retry 300s']],
    [61000, ['retry 300s']],
    [50002, ['retry']],
    [51010, ['retry']],
    [12345, ['permanent']],
  ])('code %i', (code, expected) => {
    expect(kinds(classifyTiktok(answer(200, { code, message: 'm' }), 1))).toEqual(expected);
  });
  it('a P code or a partial success in a batch: one by one', () => {
    expect(kinds(classifyTiktok(answer(200, { code: 40002, message: 'm' }), 3))).toBe('split');
    expect(kinds(classifyTiktok(answer(200, { code: 20001, message: 'm' }), 3))).toBe('split');
  });
});

describe('Google (§3.2–3.3)', () => {
  const rowErr = (index: number, value: string) => ({
    errorCode: { conversionUploadError: value },
    message: value,
    location: { fieldPathElements: [{ fieldName: 'conversions', index }] },
  });
  it('maps partial failures back by index', () => {
    const r = classifyGoogle(
      answer(200, {
        results: [{}, { gclid: 'a' }, {}, {}, {}],
        partialFailureError: {
          details: [
            {
              errors: [
                rowErr(0, 'EVENT_NOT_FOUND'),
                rowErr(2, 'ORDER_ID_ALREADY_IN_USE'),
                rowErr(3, 'TOO_RECENT_EVENT'),
                rowErr(4, 'NO_CONVERSION_ACTION_FOUND'),
              ],
            },
          ],
        },
      }),
      5,
    );
    expect(kinds(r)).toEqual(['permanent', 'ok', 'ok', `retry ${6 * 3600}s`, 'credentials']);
  });
  it.each([
    [403, 'PERMISSION_DENIED', {}, 'credentials'],
    [401, 'UNAUTHENTICATED', {}, 'credentials'],
    [429, 'RESOURCE_EXHAUSTED', { retryDelay: '30s' }, 'retry 30s'],
    [503, 'UNAVAILABLE', {}, 'retry'],
    [400, 'INVALID_ARGUMENT', {}, 'permanent'],
  ])('HTTP %i %s', (status, s, detail, expected) => {
    const body = {
      error: { code: status, status: s, message: 'm', details: [{ errors: [] }, detail] },
    };
    expect(kinds(classifyGoogle(answer(status, body), 1))).toEqual([expected]);
  });
});

it('backoff doubles from the base and is capped at 6 h', () => {
  expect([1, 2, 3, 4].map((a) => backoffSeconds(60, a))).toEqual([60, 120, 240, 480]);
  expect(backoffSeconds(60, 30)).toBe(6 * 3600);
});
