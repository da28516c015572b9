/**
 * SDK credential → app, cached in process so the SDK endpoints need no per-request lookup.
 * Entries drop on `NOTIFY apprefer_app_changed '<appId>'` (sent by updateApp); a reconnect of the
 * LISTEN connection clears everything, since notifications may have been missed meanwhile.
 */
import type { Sql } from '../../db/client.ts';
import { Lru } from '../../lib/lru.ts';
import { APP_CHANGED_CHANNEL } from '../apps/queries.ts';
import type { Environment } from '../attribution/waterfall.ts';

export type SdkApp = {
  id: string;
  sdkEnabled: boolean;
  currency: string;
  bundleIds: string[];
  clickWindowHours: number;
  probabilisticEnabled: boolean;
  probabilisticWindowHours: number;
  reattributionWindowDays: number;
  /** RevenueCat or Superwall is on: client purchases are recorded, not counted (docs/webhooks.md). */
  webhookRevenue: boolean;
};

export type SdkCredential = { app: SdkApp; environment: Environment };

type AppRowSubset = {
  id: string;
  sdk_enabled: boolean;
  currency: string;
  ios_bundle_id: string | null;
  android_package_name: string | null;
  click_window_hours: number;
  probabilistic_enabled: boolean;
  probabilistic_window_hours: number;
  reattribution_window_days: number;
  sdk_key_live: string;
  sdk_key_test: string;
  legacy_app_id: string | null;
  webhook_revenue: boolean;
};

const MAX_ENTRIES = 50_000;
const MAX_UNKNOWN = 20_000;
const NEGATIVE_TTL_MS = 60_000;

/**
 * Known credentials and unknown ones are kept apart, each a bounded LRU: a scan of made-up SDK
 * keys churns only the unknown ones and never evicts a real app's key.
 */
export class SdkAppCache {
  private readonly entries: Lru<string, SdkCredential>;
  private readonly byApp = new Map<string, Set<string>>();
  private readonly unknown: Lru<string, true>;
  private readonly inflight = new Map<string, Promise<SdkCredential | null>>();
  private unlisten: (() => Promise<void>) | null = null;
  /** Bumped on every invalidation, so a lookup that raced with one is not cached. */
  private generation = 0;

  constructor(
    private readonly sql: Sql,
    limits: { maxEntries?: number; maxUnknown?: number } = {},
  ) {
    this.entries = new Lru(limits.maxEntries ?? MAX_ENTRIES);
    this.unknown = new Lru(limits.maxUnknown ?? MAX_UNKNOWN);
  }

  /** Known credentials held, and unknown ones. */
  get sizes() {
    return { known: this.entries.size, unknown: this.unknown.size };
  }

  async start(): Promise<void> {
    const sub = await this.sql.listen(
      APP_CHANGED_CHANNEL,
      (appId) => this.invalidate(appId),
      () => this.clear(),
    );
    this.unlisten = () => sub.unlisten();
  }

  async stop(): Promise<void> {
    await this.unlisten?.().catch(() => {});
    this.unlisten = null;
  }

  invalidate(appId: string): void {
    this.generation++;
    this.inflight.clear();
    for (const k of this.byApp.get(appId) ?? []) this.entries.delete(k);
    this.byApp.delete(appId);
    // A legacy alias may have been set, or claimed by a second app: drop every alias entry.
    for (const k of [...this.entries.keys()]) if (k.startsWith('a:')) this.entries.delete(k);
    this.unknown.clear();
  }

  clear(): void {
    this.generation++;
    this.inflight.clear();
    this.entries.clear();
    this.byApp.clear();
    this.unknown.clear();
  }

  /** The app row, and whether a subscription webhook is on (the webhooks module notifies its changes). */
  private columns() {
    return this
      .sql`a.*, exists (select 1 from webhook_integrations w where w.app_id = a.id and w.enabled) as webhook_revenue`;
  }

  /** `X-AppRefer-Key` → app and environment; null when unknown, malformed or archived. */
  bySdkKey(key: string): Promise<SdkCredential | null> {
    if (!/^pk_(live|test)_[A-Za-z0-9]{1,128}$/.test(key)) return Promise.resolve(null);
    return this.lookup(`k:${key}`, async () => {
      const [row] = await this.sql<AppRowSubset[]>`
        select ${this.columns()} from apps a where (sdk_key_live = ${key} or sdk_key_test = ${key}) and archived_at is null`;
      if (!row) return null;
      return { app: toSdkApp(row), environment: row.sdk_key_live === key ? 'live' : 'sandbox' };
    });
  }

  /**
   * Legacy `X-App-Id` (SDK 0.1.0): the app id, else a legacy alias; always live. An alias is
   * unique only within an organization, so it matches only when exactly one app of the whole
   * instance claims it: an alias claimed in two organizations matches nothing (and is logged by
   * the caller), so one tenant can never receive another's traffic by claiming its alias.
   */
  byLegacyAppId(appId: string): Promise<SdkCredential | null> {
    if (appId.length > 128) return Promise.resolve(null);
    return this.lookup(`a:${appId}`, async () => {
      const [byId] = await this.sql<AppRowSubset[]>`
        select ${this.columns()} from apps a where id = ${appId} and archived_at is null`;
      if (byId) return { app: toSdkApp(byId), environment: 'live' };
      const claims = await this.sql<AppRowSubset[]>`
        select ${this.columns()} from apps a where legacy_app_id = ${appId} and archived_at is null limit 2`;
      if (claims.length !== 1) {
        if (claims.length > 1) this.onAmbiguousAlias?.(appId);
        return null;
      }
      return { app: toSdkApp(claims[0]), environment: 'live' };
    });
  }

  /** Called when an alias is claimed by apps of several organizations (the operator decides). */
  onAmbiguousAlias: ((alias: string) => void) | null = null;

  private lookup(
    cacheKey: string,
    load: () => Promise<SdkCredential | null>,
  ): Promise<SdkCredential | null> {
    const hit = this.entries.get(cacheKey);
    if (hit) return Promise.resolve(hit);
    if (this.unknown.has(cacheKey)) return Promise.resolve(null);
    const pending = this.inflight.get(cacheKey);
    if (pending) return pending;
    const generation = this.generation;
    const p = load()
      .then((cred) => {
        if (generation !== this.generation) return cred;
        if (cred) {
          this.entries.set(cacheKey, cred);
          let keys = this.byApp.get(cred.app.id);
          if (!keys) this.byApp.set(cred.app.id, (keys = new Set()));
          keys.add(cacheKey);
        } else {
          this.unknown.set(cacheKey, true, NEGATIVE_TTL_MS);
        }
        return cred;
      })
      .finally(() => {
        if (this.inflight.get(cacheKey) === p) this.inflight.delete(cacheKey);
      });
    this.inflight.set(cacheKey, p);
    return p;
  }
}

function toSdkApp(r: AppRowSubset): SdkApp {
  return {
    id: r.id,
    sdkEnabled: r.sdk_enabled,
    currency: r.currency.trim(),
    bundleIds: [r.ios_bundle_id, r.android_package_name].filter((v): v is string => !!v),
    clickWindowHours: r.click_window_hours,
    probabilisticEnabled: r.probabilistic_enabled,
    probabilisticWindowHours: r.probabilistic_window_hours,
    reattributionWindowDays: r.reattribution_window_days,
    webhookRevenue: r.webhook_revenue,
  };
}
