/**
 * Text rules shared by every input path (management API, SDK bodies, click URLs): how a string is
 * cut to a length, and which strings PostgreSQL cannot store.
 */

/**
 * `s` cut to at most `max` UTF-16 units without splitting a surrogate pair: a cut that would leave
 * the high half of an emoji drops that half too. The result is never longer than `max` in UTF-16
 * units nor in code points (PostgreSQL's characters), and is as well-formed as `s` was.
 */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= 0) return '';
  const last = s.charCodeAt(max - 1);
  const next = s.charCodeAt(max);
  // A high surrogate at the cut whose low half is beyond it: cut before the pair.
  const splitsPair = last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
  return s.slice(0, splitsPair ? max - 1 : max);
}

/** U+0000: PostgreSQL text and jsonb cannot hold it. */
export const NUL = '\u0000';
export const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

export const hasNul = (s: string) => s.includes(NUL);

const join = (prefix: string, key: string) => (prefix ? `${prefix}.${key}` : key);

/**
 * The dotted path of the first string (or object key) holding a NUL in a parsed JSON value, a
 * query or path-parameter object; null when there is none. `prefix` names the value itself.
 */
export function findNul(value: unknown, prefix: string, depth = 0): string | null {
  if (typeof value === 'string') return hasNul(value) ? prefix : null;
  if (!value || typeof value !== 'object' || depth > 64) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = findNul(value[i], join(prefix, String(i)), depth + 1);
      if (p !== null) return p;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const path = join(prefix, k.replaceAll(NUL, '\\u0000'));
    if (hasNul(k)) return path;
    const p = findNul(v, path, depth + 1);
    if (p !== null) return p;
  }
  return null;
}
