/**
 * The configure response (docs/spec/sdk-protocol.md §4.7–4.10): every key present, scalars are strings or
 * null, maps are flat string → string, `customData` and `custom_data` identical, ISO `created_at`.
 */
import { flatStringMap } from '../../lib/string-map.ts';

/** An attributions row as the response needs it. */
export type StoredAttribution = {
  id: string;
  status: 'resolved' | 'pending';
  network: string;
  match_type: string;
  campaign: string | null;
  campaign_id: string | null;
  campaign_name: string | null;
  ad_group_id: string | null;
  ad_id: string | null;
  keyword: string | null;
  click_id: string | null;
  fbclid: string | null;
  gclid: string | null;
  ttclid: string | null;
  query_params: unknown;
  custom_data: unknown;
  installed_at: Date;
  created_at: Date;
};

export const KILL_SWITCH_BODY = '{"sdkEnabled":false,"sdk_enabled":false,"attribution":null}';
export const UNDETERMINED_BODY = '{"sdkEnabled":true,"sdk_enabled":true,"attribution":null}';
export const EVENT_OK_BODY = '{"ok":true}';

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function attributionWire(a: StoredAttribution) {
  const customData = flatStringMap(a.custom_data);
  return {
    network: a.network || 'organic',
    campaign: str(a.campaign),
    match_type: a.match_type || 'organic',
    attribution_id: a.id,
    campaign_id: str(a.campaign_id),
    campaign_name: str(a.campaign_name),
    ad_group_id: str(a.ad_group_id),
    ad_id: str(a.ad_id),
    keyword: str(a.keyword),
    fbclid: str(a.fbclid),
    gclid: str(a.gclid),
    ttclid: str(a.ttclid),
    query_params: flatStringMap(a.query_params),
    customData,
    custom_data: { ...customData },
    created_at: a.created_at.toISOString(),
  };
}

/** The JSON text sent for a configure that reached an attribution (or its pending state). */
export function configureBody(a: StoredAttribution | null): string {
  if (!a || a.status === 'pending') return UNDETERMINED_BODY;
  return JSON.stringify({ sdkEnabled: true, sdk_enabled: true, attribution: attributionWire(a) });
}
