import type { Logger } from 'pino';

/**
 * PostgreSQL refusing a text value it was given: a NUL (22021 character_not_in_repertoire), a
 * character the encoding cannot hold (22P05 untranslatable_character, e.g. `\u0000` in jsonb), or
 * invalid JSON text such as a lone surrogate escape (22P02 for type json). Input validation
 * refuses these first; this is the backstop that turns a missed case into a 400, never a 500.
 */
export function isInvalidTextError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; detail?: unknown } | null;
  if (!e || typeof e.code !== 'string') return false;
  if (e.code === '22021' || e.code === '22P05') return true;
  return (
    e.code === '22P02' &&
    /\btype json\b|unicode|surrogate/i.test(`${e.message ?? ''} ${e.detail ?? ''}`)
  );
}

export const INVALID_TEXT_MESSAGE =
  'a value contains a character that cannot be stored (NUL, or an invalid Unicode escape)';

/** Connection loss, overload, shutdown, serialization/deadlock: the request gets a 503 and is retried. */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  return (
    /^(08|53|57|40001|40P01)/.test(code) ||
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'CONNECT_TIMEOUT',
      'CONNECTION_CLOSED',
      'CONNECTION_ENDED',
      'CONNECTION_DESTROYED',
    ].includes(code)
  );
}

/**
 * For a batch writer (`retryAlone` of src/lib/batcher.ts): a batch that failed because of its rows,
 * not because the database is away, is written again row by row, so one bad row cannot fail its
 * neighbours; logged with `message`.
 */
export function retryRowsAlone(log: Logger, message: string) {
  return (err: unknown, size: number): boolean => {
    if (isTransient(err)) return false;
    log.warn({ err, size }, message);
    return true;
  };
}
