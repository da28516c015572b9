import { isIP } from 'node:net';

/**
 * The form in which client IPs are stored and compared: IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a
 * dual-stack socket reports) becomes plain IPv4, anything that is not an IP becomes null. Clicks and
 * installs must use the same form, or probabilistic matching silently misses.
 */
export function normalizeIp(ip: string | null | undefined): string | null {
  if (!ip) return null;
  const v = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  return isIP(v) ? v : null;
}
