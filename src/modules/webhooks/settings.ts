/**
 * Webhook integration settings: the RevenueCat Authorization secret (generated here, stored as a
 * SHA-256 hash: the platform only ever compares it) and the Superwall signing secret (pasted in,
 * stored AES-256-GCM encrypted: verifying a signature needs it). Both shown as {set, last4}.
 */
import type { Config } from '../../config.ts';
import type { Sql } from '../../db/client.ts';
import { APP_CHANGED_CHANNEL } from '../apps/queries.ts';
import { validationError } from '../../http/errors.ts';
import { decryptSecret, encryptSecret, randomBase62, safeEqual, sha256 } from '../../lib/crypto.ts';
import type { WebhookSource } from './subscription-event.ts';

export type WebhookRow = {
  app_id: string;
  source: WebhookSource;
  enabled: boolean;
  secret_hash: Buffer | null;
  secret_enc: string | null;
  secret_last4: string | null;
  updated_at: Date | null;
};

const empty = (appId: string, source: WebhookSource): WebhookRow => ({
  app_id: appId,
  source,
  enabled: false,
  secret_hash: null,
  secret_enc: null,
  secret_last4: null,
  updated_at: null,
});

export async function getWebhook(sql: Sql, appId: string, source: WebhookSource) {
  const [row] = await sql<WebhookRow[]>`
    select * from webhook_integrations where app_id = ${appId} and source = ${source}`;
  return row ?? empty(appId, source);
}

export const webhookUrl = (config: Config, source: WebhookSource, appId: string) =>
  `${config.publicUrl}/api/webhook/${source}/${encodeURIComponent(appId)}`;

export function toRevenueCatResource(config: Config, row: WebhookRow, secret?: string) {
  return {
    network: 'revenuecat' as const,
    enabled: row.enabled,
    webhookUrl: webhookUrl(config, 'revenuecat', row.app_id),
    authorization: {
      set: row.secret_hash !== null,
      last4: row.secret_last4,
      ...(secret ? { value: secret } : {}),
    },
    updatedAt: row.updated_at?.toISOString() ?? null,
  };
}

export function toSuperwallResource(config: Config, row: WebhookRow) {
  return {
    network: 'superwall' as const,
    enabled: row.enabled,
    webhookUrl: webhookUrl(config, 'superwall', row.app_id),
    signingSecret: { set: row.secret_enc !== null, last4: row.secret_last4 },
    updatedAt: row.updated_at?.toISOString() ?? null,
  };
}

/** Both webhook resources of an app (the integrations overview lists them). */
export async function webhookResources(sql: Sql, config: Config, appId: string) {
  const rows = await sql<WebhookRow[]>`select * from webhook_integrations where app_id = ${appId}`;
  const of = (s: WebhookSource) => rows.find((r) => r.source === s) ?? empty(appId, s);
  return {
    revenuecat: toRevenueCatResource(config, of('revenuecat')),
    superwall: toSuperwallResource(config, of('superwall')),
  };
}

/** Whether RevenueCat or Superwall is on: webhooks are then the app's revenue source (§8.5 #12). */
export async function webhookConnected(sql: Sql, appId: string): Promise<boolean> {
  const [r] = await sql`
    select exists (select 1 from webhook_integrations where app_id = ${appId} and enabled) as on`;
  return r.on as boolean;
}

/** A new RevenueCat secret: 32 base62 characters (190 bits), recognisable by its prefix. */
const newRevenueCatSecret = () => `rcwh_${randomBase62(32)}`;

/** PATCH: enabling without a secret, or rotateSecret, generates one and returns it (once). */
export async function patchRevenueCat(
  sql: Sql,
  appId: string,
  patch: { enabled?: boolean; rotateSecret?: true },
): Promise<{ row: WebhookRow; secret?: string }> {
  const cur = await getWebhook(sql, appId, 'revenuecat');
  const enabled = patch.enabled ?? cur.enabled;
  const secret =
    patch.rotateSecret || (enabled && cur.secret_hash === null) ? newRevenueCatSecret() : undefined;
  const [row] = await sql<WebhookRow[]>`
    insert into webhook_integrations (app_id, source, enabled, secret_hash, secret_last4)
    values (${appId}, 'revenuecat', ${enabled}, ${secret ? sha256(secret) : cur.secret_hash},
            ${secret ? secret.slice(-4) : cur.secret_last4})
    on conflict (app_id, source) do update
      set enabled = excluded.enabled, secret_hash = excluded.secret_hash, secret_last4 = excluded.secret_last4,
          updated_at = now()
    returning *`;
  forgetReceiverApp(sql, appId, 'revenuecat');
  await sql.notify(APP_CHANGED_CHANNEL, appId); // SDK app caches: client purchases flagged or not
  return { row, secret };
}

export async function patchSuperwall(
  sql: Sql,
  key: Buffer,
  appId: string,
  patch: { enabled?: boolean; signingSecret?: string | null },
): Promise<WebhookRow> {
  const cur = await getWebhook(sql, appId, 'superwall');
  let enc = cur.secret_enc;
  let last4 = cur.secret_last4;
  if (patch.signingSecret === null) enc = last4 = null;
  else if (patch.signingSecret !== undefined) {
    enc = encryptSecret(key, patch.signingSecret);
    last4 = patch.signingSecret.slice(-4);
  }
  const enabled = patch.signingSecret === null ? false : (patch.enabled ?? cur.enabled);
  if (enabled && enc === null)
    throw validationError('signingSecret', 'required to enable Superwall webhooks');
  const [row] = await sql<WebhookRow[]>`
    insert into webhook_integrations (app_id, source, enabled, secret_enc, secret_last4)
    values (${appId}, 'superwall', ${enabled}, ${enc}, ${last4})
    on conflict (app_id, source) do update
      set enabled = excluded.enabled, secret_enc = excluded.secret_enc, secret_last4 = excluded.secret_last4,
          updated_at = now()
    returning *`;
  forgetReceiverApp(sql, appId, 'superwall');
  await sql.notify(APP_CHANGED_CHANNEL, appId); // SDK app caches: client purchases flagged or not
  return row;
}

/** What a receiver needs about the app: the webhook settings and the qualified-trial settings. */
export type ReceiverApp = {
  id: string;
  qualified_trials_enabled: boolean;
  qualified_trials_delay_hours: string;
  enabled: boolean | null;
  secret_hash: Buffer | null;
  secret_enc: string | null;
};

export async function receiverApp(
  sql: Sql,
  appId: string,
  source: WebhookSource,
): Promise<ReceiverApp | null> {
  const key = `${appId}\u0000${source}`;
  const cache =
    receiverCaches.get(sql) ?? new Map<string, { at: number; app: ReceiverApp | null }>();
  receiverCaches.set(sql, cache);
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < RECEIVER_CACHE_MS) return hit.app;
  const [row] = await sql<ReceiverApp[]>`
    select a.id, a.qualified_trials_enabled, a.qualified_trials_delay_hours, w.enabled, w.secret_hash, w.secret_enc
    from apps a left join webhook_integrations w on w.app_id = a.id and w.source = ${source}
    where a.id = ${appId}`;
  if (cache.size >= RECEIVER_CACHE_MAX) cache.clear();
  cache.set(key, { at: Date.now(), app: row ?? null });
  return row ?? null;
}

/**
 * What the receivers read per delivery, kept RECEIVER_CACHE_MS in process (a storm costs no
 * lookup per request). A PATCH of the webhook settings drops its entry at once in this process;
 * other processes see a change (a new secret, an app's qualified-trial settings) within the TTL.
 */
const RECEIVER_CACHE_MS = 2_000;
const RECEIVER_CACHE_MAX = 10_000;
const receiverCaches = new WeakMap<Sql, Map<string, { at: number; app: ReceiverApp | null }>>();
const forgetReceiverApp = (sql: Sql, appId: string, source: WebhookSource) =>
  receiverCaches.get(sql)?.delete(`${appId}\u0000${source}`);

/**
 * RevenueCat sends the configured value verbatim; users type `Bearer xyz` or `xyz`: both match.
 * Compared as SHA-256 digests in constant time.
 */
export function revenueCatAuthorized(header: string | undefined, hash: Buffer | null): boolean {
  if (!header || !hash) return false;
  const value = header.trim().replace(/^bearer\s+/i, '');
  return safeEqual(sha256(value), hash);
}

export function superwallSecret(key: Buffer, app: ReceiverApp): string | null {
  return app.secret_enc ? decryptSecret(key, app.secret_enc) : null;
}
