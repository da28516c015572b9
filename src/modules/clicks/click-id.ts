/**
 * The ar_click_id: `arc_` + 20 base62 characters, URL-safe and unguessable: 7 for the time in
 * milliseconds and 13 random ones (src/lib/crypto.ts, `newTimeOrderedId`). Time first, so that the
 * clicks primary key grows at its right edge (0005_cheaper_click_writes.sql), and so that a
 * configure can tell a click answered a moment ago, still in a click writer's buffer, from an
 * unknown one (docs/sdk-ingestion.md, "Clicks not yet written").
 */
import { newTimeOrderedId, timeOfId } from '../../lib/crypto.ts';

export const newClickId = (now = Date.now()): string => newTimeOrderedId('arc', now);

/** When a click id issued by `newClickId` was issued (ms since the epoch), or null for any other string. */
export const clickIdTime = (id: string): number | null => timeOfId('arc', id);
