/**
 * What each network receives for one delivery, to the field of docs/spec/external-apis.md §1–3.
 * Pure functions of the stored rows: the same delivery always builds the same body, so a resend
 * carries the same ids (Meta/TikTok `event_id`, Google `orderId` = the forward id).
 */
import { sha256Hex } from '../../lib/crypto.ts';

/** A delivery with what its payload is built from (sender.ts reads it in one query). */
export type SendRow = {
  id: string;
  forward_id: string;
  event_name: string;
  network_event_name: string;
  click_kind: string;
  click_id: string;
  clicked_at: Date | null;
  attempts: number;
  created_at: Date;
  event_received_at: Date;
  revenue: string | null;
  currency: string | null;
  user_id: string | null;
  device_id: string | null;
  platform: string | null;
  idfa: string | null;
  gaid: string | null;
  user_agent: string | null;
  app_version: string | null;
  os_version: string | null;
  model: string | null;
  locale: string | null;
  timezone: string | null;
  device_info: Record<string, unknown> | null;
  advanced_matching: Record<string, unknown> | null;
  click_ip: string | null;
  click_user_agent: string | null;
  link_id: string | null;
  bundle_id: string | null;
};

const HEX64 = /^[0-9a-f]{64}$/;
const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

/** A stored advanced-matching value: SHA-256 hex as the SDK sent it; anything else is hashed by §12's rule. */
function hashed(
  am: Record<string, unknown> | null,
  key: 'em' | 'ph' | 'fn' | 'ln' | 'db',
): string | null {
  const v = am?.[key];
  if (typeof v !== 'string' || v === '') return null;
  const lower = v.trim().toLowerCase();
  if (HEX64.test(lower)) return lower;
  if (key === 'ph') return sha256Hex(v.replace(/[^0-9]/g, '').replace(/^0+/, ''));
  if (key === 'db') return sha256Hex(v.replace(/[^0-9]/g, ''));
  return sha256Hex(lower);
}

const externalId = (r: SendRow) => sha256Hex(r.user_id ?? r.device_id ?? r.id);
const money = (r: SendRow) =>
  r.revenue !== null && r.currency ? { value: Number(r.revenue), currency: r.currency } : null;

/** Meta CAPI server event (§1.2–1.6): an app event with `app_data`, the click as `fbc`. */
export function metaEvent(r: SendRow) {
  const am = r.advanced_matching;
  const clickMs = (r.clicked_at ?? r.event_received_at).getTime();
  const userData: Record<string, unknown> = { fbc: `fb.1.${clickMs}.${r.click_id}` };
  if (r.click_ip) userData.client_ip_address = r.click_ip;
  const ua = r.user_agent ?? r.click_user_agent;
  if (ua) userData.client_user_agent = ua;
  for (const k of ['em', 'ph', 'fn', 'ln', 'db'] as const) {
    const h = hashed(am, k);
    if (h) userData[k] = [h];
  }
  userData.external_id = [externalId(r)];
  const madid = r.idfa ?? r.gaid;
  if (madid) userData.madid = madid;

  const ios = r.platform === 'ios';
  const build = r.device_info?.app_build;
  const info = (v: string | null | undefined) => v ?? '';
  const event: Record<string, unknown> = {
    event_name: r.network_event_name,
    event_time: seconds(r.event_received_at),
    action_source: 'app',
    event_id: r.forward_id,
    user_data: userData,
  };
  const m = money(r);
  if (m) event.custom_data = m;
  event.app_data = {
    // iOS: true only when ATT allowed the IDFA; Android: true unless ad tracking is limited (no GAID).
    advertiser_tracking_enabled: ios ? !!r.idfa : !!r.gaid,
    application_tracking_enabled: true,
    extinfo: [
      ios ? 'i2' : 'a2',
      info(r.bundle_id),
      info(r.app_version),
      r.app_version && build != null ? `${r.app_version} (${String(build)})` : info(r.app_version),
      info(r.os_version),
      info(r.model),
      info(r.locale?.replace('-', '_')),
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      info(r.timezone),
    ],
  };
  return event;
}

/** `yyyy-mm-dd hh:mm:ss+00:00` (§3.1: the offset is mandatory). */
export function googleDateTime(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}+00:00`;
}

/** Google Ads click conversion (§3.1). */
export function googleConversion(r: SendRow, customerId: string, actionId: string) {
  const conv: Record<string, unknown> = {
    [r.click_kind]: r.click_id,
    conversionAction: `customers/${customerId}/conversionActions/${actionId}`,
    conversionDateTime: googleDateTime(r.event_received_at),
  };
  const m = money(r);
  if (m) {
    conv.conversionValue = m.value;
    conv.currencyCode = m.currency;
  }
  conv.orderId = r.forward_id;
  conv.conversionEnvironment = 'APP';
  return conv;
}

/** TikTok Events API 2.0 event (§2.1): web source with the pixel code, ttclid in `user.ttclid`. */
export function tiktokEvent(r: SendRow, trackingUrl: string) {
  const user: Record<string, unknown> = { ttclid: r.click_id };
  if (r.click_ip) user.ip = r.click_ip;
  const ua = r.user_agent ?? r.click_user_agent;
  if (ua) user.user_agent = ua;
  const em = hashed(r.advanced_matching, 'em');
  if (em) user.email = em;
  const ph = hashed(r.advanced_matching, 'ph');
  if (ph) user.phone = ph;
  user.external_id = externalId(r);
  const event: Record<string, unknown> = {
    event: r.network_event_name,
    event_time: seconds(r.event_received_at),
    event_id: r.forward_id,
    user,
  };
  if (r.link_id)
    event.page = {
      url: `${trackingUrl}/api/c/${encodeURIComponent(r.link_id)}?ttclid=${encodeURIComponent(r.click_id)}`,
    };
  const m = money(r);
  if (m) event.properties = m;
  event.limited_data_use = false;
  return event;
}
