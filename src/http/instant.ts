import { z } from 'zod';

/** A `from`/`to` filter of the audit-style lists: an ISO-8601 time, or a day (UTC). */
export const Instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .describe('An ISO-8601 time, or a day (UTC)');

/** As `to`: a day covers the whole day. */
export function endOf(v: string): Date {
  return /^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(`${v}T23:59:59.999Z`) : new Date(v);
}
