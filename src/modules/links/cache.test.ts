import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createTestDatabase } from '../../../test/helpers.ts';
import { createOrganizationWithOwner } from '../auth/accounts.ts';
import { createApp, type AppRow } from '../apps/queries.ts';
import { AppCreate } from '../apps/schemas.ts';
import { LinkCache, LinkLookupTimeout } from './cache.ts';
import { createLink, updateLink } from './queries.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let app: AppRow;
beforeAll(async () => {
  db = await createTestDatabase();
  const { organization } = await createOrganizationWithOwner(db.sql, {
    org: 'Cache',
    email: 'cache@example.com',
    password: 'correct horse battery',
  });
  app = await createApp(
    db.sql,
    organization.id,
    AppCreate.parse({
      name: 'FitTrack',
      ios: { bundleId: 'com.example.fittrack', appStoreId: '1234567890' },
    }),
  );
});
afterAll(() => db?.drop());

describe('LinkCache', () => {
  it('merges the link overrides over the app destinations', async () => {
    await createLink(db.sql, app, {
      id: 'merge-link',
      network: 'meta',
      destinations: { web: 'https://fittrack.example/' },
    });
    const cache = new LinkCache(db.sql, pino({ level: 'silent' }));
    expect(await cache.get('merge-link')).toEqual({
      id: 'merge-link',
      appId: app.id,
      appName: 'FitTrack',
      network: 'meta',
      campaignName: null,
      destinations: {
        ios: 'https://apps.apple.com/app/id1234567890',
        android: null,
        web: 'https://fittrack.example/',
      },
    });
    expect(await cache.get('no-such-link')).toBeNull();
  });

  it('serves from memory after the first load, and reloads after an invalidation', async () => {
    await createLink(db.sql, app, { id: 'memory-link', network: 'meta' });
    const cache = new LinkCache(db.sql, pino({ level: 'silent' }));
    expect((await cache.get('memory-link'))?.network).toBe('meta');
    // Changed behind the cache's back (no invalidation): the cached value is served, synchronously.
    await db.sql`update links set network = 'google' where id = 'memory-link'`;
    const hit = cache.get('memory-link');
    expect(hit).not.toBeInstanceOf(Promise);
    expect((hit as { network: string }).network).toBe('meta');
    cache.invalidateLink('memory-link');
    expect((await cache.get('memory-link'))?.network).toBe('google');
  });

  it('never stores a load that an invalidation overtook', async () => {
    await createLink(db.sql, app, { id: 'race-link', network: 'meta' });
    const cache = new LinkCache(db.sql, pino({ level: 'silent' }));
    const inFlight = cache.get('race-link');
    await updateLink(db.sql, app.id, 'race-link', { network: 'tiktok' });
    cache.invalidateLink('race-link');
    await inFlight; // may have read either version
    expect((await cache.get('race-link'))?.network).toBe('tiktok');
  });

  it('shares one load between concurrent misses', async () => {
    await createLink(db.sql, app, { id: 'shared-link', network: 'meta' });
    const cache = new LinkCache(db.sql, pino({ level: 'silent' }));
    const a = cache.get('shared-link');
    const b = cache.get('shared-link');
    expect(a).toBe(b);
    expect(await a).toEqual(await b);
  });

  it('follows NOTIFY from another connection once started', async () => {
    await createLink(db.sql, app, { id: 'notify-link', network: 'meta' });
    const cache = new LinkCache(db.sql, pino({ level: 'silent' }));
    await cache.start();
    try {
      expect((await cache.get('notify-link'))?.network).toBe('meta');
      await updateLink(db.sql, app.id, 'notify-link', { network: 'google' }); // notifies; nobody calls invalidateLink here
      for (let i = 0; i < 400 && (await cache.get('notify-link'))?.network !== 'google'; i++)
        await new Promise((r) => setTimeout(r, 25));
      expect((await cache.get('notify-link'))?.network).toBe('google');
    } finally {
      await cache.stop();
    }
  });
});

describe('LinkCache under scans and outages', () => {
  it('a scan of unknown ids never evicts a known link, and unknown ids stay bounded', async () => {
    await createLink(db.sql, app, { id: 'scan-survivor', network: 'meta' });
    const cache = new LinkCache(db.sql, pino({ level: 'silent' }), {
      maxEntries: 10,
      maxNegative: 5,
    });
    expect((await cache.get('scan-survivor'))?.network).toBe('meta');
    for (let i = 0; i < 200; i++) expect(await cache.get(`scan-${i}`)).toBeNull();
    expect(cache.unknownSize).toBe(5);
    // Still served from memory: a change behind the cache's back is not seen.
    await db.sql`update links set network = 'google' where id = 'scan-survivor'`;
    const hit = cache.get('scan-survivor');
    expect(hit).not.toBeInstanceOf(Promise);
    expect((hit as { network: string }).network).toBe('meta');
  });

  it('the least recently used link is the one evicted', async () => {
    for (const id of ['lru-a', 'lru-b', 'lru-c'])
      await createLink(db.sql, app, { id, network: 'meta' });
    const cache = new LinkCache(db.sql, pino({ level: 'silent' }), { maxEntries: 2 });
    await cache.get('lru-a');
    await cache.get('lru-b');
    cache.get('lru-a'); // used again: b is now the oldest
    await cache.get('lru-c');
    expect(cache.get('lru-a')).not.toBeInstanceOf(Promise);
    expect(cache.get('lru-b')).toBeInstanceOf(Promise);
  });

  it('waits at most loadTimeoutMs for a database that does not answer', async () => {
    await createLink(db.sql, app, { id: 'slow-link', network: 'meta' });
    const cache = new LinkCache(db.sql, pino({ level: 'silent' }), { loadTimeoutMs: 200 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // Another transaction holds the links table: the lookup's query blocks.
    const locking = db.sql.begin(async (tx) => {
      await tx`lock table links in access exclusive mode`;
      await held;
    });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await expect(cache.get('slow-link')).rejects.toThrow(LinkLookupTimeout);
    expect(Date.now() - started).toBeLessThan(1_000);
    release();
    await locking;
    expect((await cache.get('slow-link'))?.network).toBe('meta');
  });
});
