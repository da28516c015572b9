import type { Logger } from 'pino';
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

type Entry = { target: LinkTarget } | { target: null; expiresAt: number };

export type LinkCacheOptions = { maxEntries: number; negativeTtlMs: number };
const DEFAULTS: LinkCacheOptions = { maxEntries: 100_000, negativeTtlMs: 5_000 };

/**
 * In-process cache of links for the redirect path, so a click costs no database round trip.
 * Kept fresh by LISTEN: `apprefer_link_changed` (payload: link id) and `apprefer_app_changed`
 * (payload: app id) drop entries in every server process on the database. After a lost LISTEN
 * connection the whole cache is dropped, since notifications may have been missed.
 * Unknown ids are cached briefly too (a scanner cannot turn into a query per request); creating
 * a link notifies its id, which drops that negative entry.
 */
export class LinkCache {
  private entries = new Map<string, Entry>();
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
    const e = this.entries.get(id);
    if (e) {
      if (e.target || e.expiresAt > Date.now()) return e.target;
      this.entries.delete(id);
    }
    return this.loading.get(id) ?? this.load(id);
  }

  invalidateLink(id: string) {
    this.generation++;
    this.entries.delete(id);
  }

  invalidateApp(appId: string) {
    this.generation++;
    for (const [id, e] of this.entries)
      if (!e.target || e.target.appId === appId) this.entries.delete(id);
  }

  clear() {
    this.generation++;
    this.entries.clear();
  }

  get size() {
    return this.entries.size;
  }

  private load(id: string): Promise<LinkTarget | null> {
    const generation = this.generation;
    const p = loadLinkTarget(this.sql, id)
      .then((target) => {
        if (generation === this.generation) {
          if (this.entries.size >= this.opts.maxEntries)
            this.entries.delete(this.entries.keys().next().value!);
          this.entries.set(
            id,
            target ? { target } : { target: null, expiresAt: Date.now() + this.opts.negativeTtlMs },
          );
        }
        return target;
      })
      .finally(() => this.loading.delete(id));
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
