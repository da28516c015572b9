import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/helpers.ts';
import { createOrganizationWithOwner } from '../auth/accounts.ts';
import { createApp, type AppRow } from '../apps/queries.ts';
import { AppCreate } from '../apps/schemas.ts';
import { SdkAppCache } from './app-cache.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let app: AppRow;
beforeAll(async () => {
  db = await createTestDatabase();
  const { organization } = await createOrganizationWithOwner(db.sql, {
    org: 'SDK cache',
    email: 'sdk-cache@example.com',
    password: 'correct horse battery',
  });
  app = await createApp(db.sql, organization.id, AppCreate.parse({ name: 'FitTrack' }));
});
afterAll(() => db?.drop());

describe('SdkAppCache', () => {
  it('a scan of made-up SDK keys never evicts a real key, and unknown keys stay bounded', async () => {
    const cache = new SdkAppCache(db.sql, { maxEntries: 4, maxUnknown: 5 });
    expect((await cache.bySdkKey(app.sdk_key_live))?.app.id).toBe(app.id);
    for (let i = 0; i < 300; i++)
      expect(await cache.bySdkKey(`pk_live_${i.toString(16).padStart(24, '0')}`)).toBeNull();
    expect(cache.sizes).toEqual({ known: 1, unknown: 5 });
    // Served from memory: archiving behind the cache's back (no NOTIFY) is not seen yet.
    await db.sql`update apps set archived_at = now() where id = ${app.id}`;
    expect((await cache.bySdkKey(app.sdk_key_live))?.app.id).toBe(app.id);
    cache.invalidate(app.id);
    expect(await cache.bySdkKey(app.sdk_key_live)).toBeNull();
    await db.sql`update apps set archived_at = null where id = ${app.id}`;
  });
});
