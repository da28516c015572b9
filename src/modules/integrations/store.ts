/**
 * Integration settings: read, merged on PATCH, secrets encrypted at rest (AES-256-GCM with
 * SECRET_KEY) and shown only as `{"set","last4"}`. Every query is scoped to an app the caller's
 * organization owns (the routes resolve it with `visibleApp` first).
 */
import type { Sql } from '../../db/client.ts';
import { decryptSecret, encryptSecret } from '../../lib/crypto.ts';
import {
  DEFAULT_GOOGLE_API_VERSION,
  DEFAULT_MAPPING,
  NETWORKS,
  REQUIRED_FIELDS,
  SECRET_FIELDS,
  type Network,
} from './networks.ts';
import type { IntegrationPatch } from './schemas.ts';

type StoredSecret = { enc: string; last4: string };

export type IntegrationRow = {
  app_id: string;
  network: Network;
  enabled: boolean;
  configured: boolean;
  settings: Record<string, unknown>;
  secrets: Record<string, StoredSecret>;
  event_mapping: Record<string, string | null>;
  forward_client_purchases: boolean | null;
  status: 'ok' | 'failing' | 'unauthorized';
  last_delivery_at: Date | null;
  last_error: string | null;
  updated_at: Date | null;
};

const emptyRow = (appId: string, network: Network): IntegrationRow => ({
  app_id: appId,
  network,
  enabled: false,
  configured: false,
  settings: {},
  secrets: {},
  event_mapping: {},
  forward_client_purchases: null,
  status: 'ok',
  last_delivery_at: null,
  last_error: null,
  updated_at: null,
});

export async function listIntegrations(sql: Sql, appId: string) {
  const rows = await sql<IntegrationRow[]>`select * from integrations where app_id = ${appId}`;
  return Object.fromEntries(
    NETWORKS.map((n) => [n, rows.find((r) => r.network === n) ?? emptyRow(appId, n)]),
  ) as Record<Network, IntegrationRow>;
}

export async function getIntegration(
  sql: Sql,
  appId: string,
  network: Network,
): Promise<IntegrationRow> {
  const [row] = await sql<IntegrationRow[]>`
    select * from integrations where app_id = ${appId} and network = ${network}`;
  return row ?? emptyRow(appId, network);
}

/** The mapping in force: §8.4 defaults with the app's overrides on top. */
export function effectiveMapping(row: IntegrationRow): Record<string, string | null> {
  return { ...DEFAULT_MAPPING[row.network], ...row.event_mapping };
}

/** PATCH: merges the given fields (null clears one), encrypts secrets, recomputes `configured`. */
export async function patchIntegration(
  sql: Sql,
  secretKey: Buffer,
  appId: string,
  network: Network,
  patch: IntegrationPatch,
): Promise<IntegrationRow> {
  return sql.begin(async (tx) => {
    await tx`insert into integrations (app_id, network) values (${appId}, ${network}) on conflict do nothing`;
    const [cur] = await tx<IntegrationRow[]>`
      select * from integrations where app_id = ${appId} and network = ${network} for update`;
    const settings = { ...cur.settings };
    const secrets = { ...cur.secrets };
    let credentialsChanged = false;
    for (const [k, v] of Object.entries(patch.settings ?? {})) {
      if (v === undefined) continue;
      if (SECRET_FIELDS[network].includes(k)) {
        credentialsChanged = true;
        if (v === null) delete secrets[k];
        else secrets[k] = { enc: encryptSecret(secretKey, v as string), last4: last4(v as string) };
      } else {
        if (['customerId', 'loginCustomerId', 'clientId', 'datasetId', 'pixelCode'].includes(k))
          credentialsChanged = true;
        if (v === null) delete settings[k];
        else settings[k] = v;
      }
    }
    const mapping = { ...cur.event_mapping, ...(patch.eventMapping ?? {}) };
    const configured = REQUIRED_FIELDS[network].every(
      (f) => (SECRET_FIELDS[network].includes(f) ? secrets[f] : settings[f]) != null,
    );
    // New credentials end an `unauthorized` pause: the waiting deliveries are sent again.
    const status = credentialsChanged ? 'ok' : cur.status;
    const [row] = await tx<IntegrationRow[]>`
      update integrations set
        enabled = ${patch.enabled ?? cur.enabled},
        configured = ${configured},
        settings = ${tx.json(settings as never)},
        secrets = ${tx.json(secrets as never)},
        event_mapping = ${tx.json(mapping as never)},
        forward_client_purchases = ${patch.forwardClientPurchases === undefined ? cur.forward_client_purchases : patch.forwardClientPurchases},
        status = ${status},
        last_error = ${credentialsChanged ? null : cur.last_error},
        updated_at = now()
      where app_id = ${appId} and network = ${network}
      returning *`;
    if (credentialsChanged && cur.status === 'unauthorized') {
      await tx`
        update deliveries set next_attempt_at = now(), updated_at = now()
        where app_id = ${appId} and network = ${network} and status in ('pending', 'retrying')`;
    }
    return row;
  });
}

const last4 = (s: string) => (s.length >= 8 ? s.slice(-4) : null) ?? '';

const secretState = (row: IntegrationRow, k: string) => {
  const s = row.secrets[k];
  return { set: !!s, last4: s ? s.last4 || null : null };
};

/** The API resource (docs/spec/api.md "Integrations"). */
export function toIntegrationResource(row: IntegrationRow, webhookConnected: boolean) {
  const s = row.settings;
  const str = (k: string) => (typeof s[k] === 'string' ? (s[k] as string) : null);
  const base = {
    enabled: row.enabled,
    status: row.configured ? row.status : ('not_configured' as const),
    eventMapping: effectiveMapping(row),
    forwardClientPurchases: row.forward_client_purchases ?? !webhookConnected,
    lastDeliveryAt: row.last_delivery_at?.toISOString() ?? null,
    lastError: row.last_error,
    updatedAt: row.updated_at?.toISOString() ?? null,
  };
  if (row.network === 'google')
    return {
      network: 'google' as const,
      ...base,
      settings: {
        customerId: str('customerId'),
        loginCustomerId: str('loginCustomerId'),
        developerToken: secretState(row, 'developerToken'),
        clientId: str('clientId'),
        clientSecret: secretState(row, 'clientSecret'),
        refreshToken: secretState(row, 'refreshToken'),
        apiVersion: str('apiVersion') ?? DEFAULT_GOOGLE_API_VERSION,
        conversionActions: (s.conversionActions as Record<string, string> | undefined) ?? {},
      },
    };
  if (row.network === 'meta')
    return {
      network: 'meta' as const,
      ...base,
      settings: {
        datasetId: str('datasetId'),
        accessToken: secretState(row, 'accessToken'),
        testEventCode: str('testEventCode'),
      },
    };
  return {
    network: 'tiktok' as const,
    ...base,
    settings: {
      pixelCode: str('pixelCode'),
      accessToken: secretState(row, 'accessToken'),
      testEventCode: str('testEventCode'),
    },
  };
}

/** Decrypted credentials and settings, for the sender only (never logged, never stored elsewhere). */
export type Credentials = Record<string, string | undefined> & {
  conversionActions?: Record<string, string>;
};
export function credentialsOf(row: IntegrationRow, secretKey: Buffer): Credentials {
  const out: Credentials = {};
  for (const [k, v] of Object.entries(row.settings)) {
    if (typeof v === 'string') out[k] = v;
  }
  if (row.settings.conversionActions)
    out.conversionActions = row.settings.conversionActions as Record<string, string>;
  for (const [k, v] of Object.entries(row.secrets)) out[k] = decryptSecret(secretKey, v.enc);
  return out;
}
