import type { Logger } from 'pino';
import { Lru } from '../../lib/lru.ts';
import type { Sql } from '../../db/client.ts';
import type { Services } from '../../services.ts';
import { androidStoreUrl, APP_CHANGED_CHANNEL, iosStoreUrl, type AppRow } from '../apps/queries.ts';
import type { Network } from './vocabulary.ts';
import type { Destinations } from '../clicks/destination.ts';
import { LINK_CHANGED_CHANNEL } from './queries.ts';

/** What a redirect needs about a link: its app's settings already merged in. */
export type LinkTarget = {
  id: string;
  appId: string;
  appName: string;
  network: Network;
  campaignName: string | null;
  destinations: Destinations;
};

export type LinkCacheOptions = {
  /** Links kept (least recently used evicted). */
  maxEntries: number;
  /** Unknown ids kept apart, so that a scan of made-up ids never evicts a real link. */
  maxNegative: number;
  negativeTtlMs: number;
  /** A redirect waits at most this long for the database; then the visitor gets a 503 page. */
  loadTimeoutMs: number;
};
const DEFAULTS: LinkCacheOptions = {
  maxEntries: 100_000,
  maxNegative: 20_000,
  negativeTtlMs: 5_000,
  loadTimeoutMs: 2_000,
};

export class LinkLookupTimeout extends Error {
  constructor(ms: number) {
    super(`link lookup took over ${ms} ms (database slow or unreachable)`);
  }
}

/**
 * In-process cache of links for the redirect path, so a click costs no database round trip.
 * Kept fresh by LISTEN: `apprefer_link_changed` (payload: link id) and `apprefer_app_changed`
 * (payload: app id) drop entries in every server process on the database. After a lost LISTEN
 * connection the whole cache is dropped, since notifications may have been missed.
 * Unknown ids are cached briefly too (a scanner cannot turn into a query per request), in their
 * own bounded LRU so that a scan never evicts real links; creating a link notifies its id, which
 * drops that negative entry. A lookup waits at most `loadTimeoutMs` for the database.
 */
export class LinkCache {
  private entries: Lru<string, LinkTarget>;
  private unknown: Lru<string, true>;
  private loading = new Map<string, Promise<LinkTarget | null>>();
  /** Bumped by every invalidation: a load that started before one must not be stored. */
  private generation = 0;
  private unlisten: (() => Promise<void>)[] = [];
  private opts: LinkCacheOptions;

  constructor(
    private sql: Sql,
    private log: Logger,
    opts: Partial<LinkCacheOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
    this.entries = new Lru(this.opts.maxEntries);
    this.unknown = new Lru(this.opts.maxNegative);
  }

  async start() {
    let connected = 0;
    const onListen = () => {
      if (connected++ > 1) this.clear();
    }; // two channels: the first two calls are the initial ones
    const links = await this.sql.listen(
      LINK_CHANGED_CHANNEL,
      (id) => this.invalidateLink(id),
      onListen,
    );
    const apps = await this.sql.listen(
      APP_CHANGED_CHANNEL,
      (id) => this.invalidateApp(id),
      onListen,
    );
    this.unlisten = [links.unlisten, apps.unlisten];
  }

  async stop() {
    await Promise.all(this.unlisten.map((u) => u().catch(() => {})));
    this.unlisten = [];
  }

  /** The link, or null when it does not exist, was deleted or its app is archived. */
  get(id: string): LinkTarget | null | Promise<LinkTarget | null> {
    const hit = this.entries.get(id);
    if (hit) return hit;
    if (this.unknown.has(id)) return null;
    return this.loading.get(id) ?? this.load(id);
  }

  invalidateLink(id: string) {
    this.generation++;
    this.entries.delete(id);
    this.unknown.delete(id);
  }

  invalidateApp(appId: string) {
    this.generation++;
    this.entries.deleteWhere((t) => t.appId === appId);
    this.unknown.clear();
  }

  clear() {
    this.generation++;
    this.entries.clear();
    this.unknown.clear();
  }

  /** Links held (unknown ids not counted). */
  get size() {
    return this.entries.size;
  }

  /** Unknown ids held. */
  get unknownSize() {
    return this.unknown.size;
  }

  private withTimeout(p: Promise<LinkTarget | null>): Promise<LinkTarget | null> {
    const ms = this.opts.loadTimeoutMs;
    let timer: NodeJS.Timeout;
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new LinkLookupTimeout(ms)), ms);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** One load per id at a time, shared by concurrent misses; each waits at most `loadTimeoutMs`. */
  private load(id: string): Promise<LinkTarget | null> {
    const generation = this.generation;
    const p = this.withTimeout(
      loadLinkTarget(this.sql, id).then((target) => {
        // Stored even when it came too late for the requests that waited for it.
        if (generation === this.generation) {
          if (target) this.entries.set(id, target);
          else this.unknown.set(id, true, this.opts.negativeTtlMs);
        }
        return target;
      }),
    ).finally(() => {
      if (this.loading.get(id) === p) this.loading.delete(id);
    });
    this.loading.set(id, p);
    return p;
  }
}

type TargetRow = Pick<
  AppRow,
  'ios_store_url' | 'ios_app_store_id' | 'android_store_url' | 'android_package_name' | 'web_url'
> & {
  id: string;
  app_id: string;
  app_name: string;
  network: Network;
  campaign_name: string | null;
  destination_ios: string | null;
  destination_android: string | null;
  destination_web: string | null;
};

export async function loadLinkTarget(sql: Sql, id: string): Promise<LinkTarget | null> {
  const [r] = await sql<TargetRow[]>`
    select l.id, l.app_id, a.name as app_name, l.network, l.campaign_name,
           l.destination_ios, l.destination_android, l.destination_web,
           a.ios_store_url, a.ios_app_store_id, a.android_store_url, a.android_package_name, a.web_url
    from links l join apps a on a.id = l.app_id
    where l.id = ${id} and l.deleted_at is null and a.archived_at is null`;
  if (!r) return null;
  return {
    id: r.id,
    appId: r.app_id,
    appName: r.app_name,
    network: r.network,
    campaignName: r.campaign_name,
    destinations: {
      ios: r.destination_ios ?? iosStoreUrl(r),
      android: r.destination_android ?? androidStoreUrl(r),
      web: r.destination_web ?? r.web_url,
    },
  };
}

// One link cache per server: the Links API drops the entries it changes, the click capture reads them.
const caches = new WeakMap<Services, LinkCache>();

/** The server's link cache (made on first use; the clicks module starts and stops it). */
export function linkCacheOf(s: Services): LinkCache {
  let c = caches.get(s);
  if (!c) caches.set(s, (c = new LinkCache(s.sql, s.log)));
  return c;
}
