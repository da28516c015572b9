import { hmac, safeEqual } from '../lib/crypto.ts';
import { list } from './envelope.ts';
import { ApiError } from './errors.ts';

/**
 * Opaque keyset cursors: the last row's sort key, signed with the instance secret and bound to
 * the list it came from (`scope`, e.g. "apps:<orgId>"). A tampered, truncated or foreign cursor
 * fails the signature and is a 400, never a 500 or a silent wrong page.
 */
export type CursorKey = (string | number)[];

export function createCursorCodec(secret: Buffer) {
  const sign = (scope: string, payload: string) =>
    hmac(secret, `${scope}\n${payload}`).subarray(0, 16);

  return {
    encode(scope: string, key: CursorKey): string {
      const payload = Buffer.from(JSON.stringify(key)).toString('base64url');
      return `${payload}.${sign(scope, payload).toString('base64url')}`;
    },
    decode(scope: string, cursor: string | undefined): CursorKey | null {
      if (cursor === undefined) return null;
      const bad = () =>
        new ApiError(400, 'validation_error', 'cursor: not a cursor of this list', [
          { path: 'cursor', message: 'not a cursor of this list' },
        ]);
      const [payload, sig] = cursor.split('.');
      if (!payload || !sig || !safeEqual(Buffer.from(sig, 'base64url'), sign(scope, payload)))
        throw bad();
      try {
        const key = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
        if (Array.isArray(key)) return key;
      } catch {
        /* fall through */
      }
      throw bad();
    },
  };
}

export type CursorCodec = ReturnType<typeof createCursorCodec>;

/**
 * Fetch `limit + 1` rows, return `limit` of them and the cursor of the last one when more exist.
 */
export function page<R>(
  rows: R[],
  limit: number,
  keyOf: (row: R) => CursorKey,
  encode: (k: CursorKey) => string,
) {
  const hasMore = rows.length > limit;
  const items = hasMore ? rows.slice(0, limit) : rows;
  return { items, cursor: hasMore ? encode(keyOf(items[items.length - 1])) : null };
}

/**
 * A page of a list in `seq` order, as every list of the API answers it: the cursor is bound to
 * `scope` (the list and its filters), `fetch` reads `limit + 1` rows after the cursor's seq, and
 * the answer is the `{data, cursor}` envelope of `toResource(row)`s.
 */
export async function seqPage<R extends { seq: string }, T>(
  cursors: CursorCodec,
  scope: string,
  q: { limit: number; cursor?: string },
  fetch: (afterSeq: string | null) => Promise<R[]>,
  toResource: (row: R) => T,
) {
  const after = cursors.decode(scope, q.cursor);
  const rows = await fetch(after ? String(after[0]) : null);
  const { items, cursor } = page(
    rows,
    q.limit,
    (r) => [r.seq],
    (k) => cursors.encode(scope, k),
  );
  return list(items.map(toResource), cursor);
}
