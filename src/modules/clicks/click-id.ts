/**
 * The ar_click_id: `arc_` + 20 base62 characters, URL-safe and unguessable: 7 for the time in
 * milliseconds (in order until the year 2081) and 13 random ones (~77 bits). Time first, so that
 * the clicks primary key grows at its right edge (0005_cheaper_click_writes.sql), and so that a
 * configure can tell a click answered a moment ago, still in a click writer's buffer, from an
 * unknown one (docs/sdk-ingestion.md, "Clicks not yet written").
 */
import { randomBase62 } from '../../lib/crypto.ts';

// Byte order ("C" collation) of the digits: 0-9 < A-Z < a-z.
const SORTED_BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CLICK_ID = /^arc_[0-9A-Za-z]{20}$/;
let timePrefixMs = -1;
let timePrefix = '';

export function newClickId(now = Date.now()): string {
  if (now !== timePrefixMs) {
    let t = now;
    let s = '';
    for (let i = 0; i < 7; i++) {
      s = SORTED_BASE62[t % 62] + s;
      t = Math.floor(t / 62);
    }
    timePrefixMs = now;
    timePrefix = s;
  }
  return `arc_${timePrefix}${randomBase62(13)}`;
}

/** When a click id issued by `newClickId` was issued (ms since the epoch), or null for any other string. */
export function clickIdTime(id: string): number | null {
  if (!CLICK_ID.test(id)) return null;
  let t = 0;
  for (let i = 4; i < 11; i++) t = t * 62 + SORTED_BASE62.indexOf(id[i]);
  return t;
}
