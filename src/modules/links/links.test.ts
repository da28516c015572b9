import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type Org,
  type TestServer,
} from '../../../test/helpers.ts';

let t: TestServer;
let org: Org;
let key: string;
let appId: string;
beforeAll(async () => {
  t = await startTestServer();
  org = await createOrg(t);
  key = await org.key('full');
  appId = (await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody() })).body.data.id;
});
afterAll(() => t?.close());

const links = (id = appId) => `/api/v1/apps/${id}/links`;

describe('Links API', () => {
  it('creates a link with its URLs and the Meta parameter template', async () => {
    const r = await api(t, 'POST', links(), {
      auth: key,
      body: {
        id: 'fittrack-meta-summer',
        name: 'Meta — summer launch',
        network: 'meta',
        campaignName: 'summer_launch',
        customData: { screen: 'paywall' },
      },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({
      id: 'fittrack-meta-summer',
      appId,
      name: 'Meta — summer launch',
      network: 'meta',
      campaignName: 'summer_launch',
      destinations: { ios: null, android: null, web: null },
      customData: { screen: 'paywall' },
      archived: false,
      urls: {
        click: 'http://trk.test.local/api/c/fittrack-meta-summer',
        landing: 'http://trk.test.local/g/fittrack-meta-summer',
        parameters:
          'fbclid={{fbclid}}&campaign_id={{campaign.id}}&campaign_name={{campaign.name}}&adset_id={{adset.id}}&adset_name={{adset.name}}&ad_id={{ad.id}}&ad_name={{ad.name}}',
      },
    });
    expect(r.body.data.createdAt).toMatch(/Z$/);
  });

  it('generates an id from the app and network, and gives each network its template', async () => {
    const g = await api(t, 'POST', links(), { auth: key, body: { network: 'google' } });
    expect(g.status).toBe(201);
    expect(g.body.data.id).toMatch(/^fittrack-google-[a-z0-9]{6}$/);
    expect(g.body.data.name).toBe(g.body.data.id);
    expect(g.body.data.urls.parameters).toBe(
      'campaign_id={campaignid}&adgroup_id={adgroupid}&ad_id={creative}&keyword={keyword}',
    );
    const tt = await api(t, 'POST', links(), { auth: key, body: { network: 'tiktok' } });
    expect(tt.body.data.urls.parameters).toMatch(/^ttclid=__CLICKID__&campaign_id=__CAMPAIGN_ID__/);
    const other = await api(t, 'POST', links(), { auth: key, body: {} });
    expect(other.body.data).toMatchObject({
      network: 'other',
      urls: { parameters: 'utm_source={source}&utm_medium={medium}&utm_campaign={campaign}' },
    });
  });

  it('rejects a bad slug, an unknown field, a bad URL and a bad network, naming the field', async () => {
    for (const [body, path] of [
      [{ id: 'Has-Upper' }, 'id'],
      [{ id: 'ab' }, 'id'],
      [{ id: 'with space' }, 'id'],
      [{ id: 'x'.repeat(65) }, 'id'],
      [{ nework: 'meta' }, 'nework'],
      [{ network: 'snap' }, 'network'],
      [{ destinations: { ios: 'ftp://x' } }, 'destinations.ios'],
      [{ customData: { a: 1 } }, 'customData.a'],
    ] as const) {
      const r = await api(t, 'POST', links(), { auth: key, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('validation_error');
      expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it('409 when the id is taken, in any app of any organization, deleted links included', async () => {
    await api(t, 'POST', links(), { auth: key, body: { id: 'taken-id' } });
    expect((await api(t, 'POST', links(), { auth: key, body: { id: 'taken-id' } })).status).toBe(
      409,
    );
    const other = await createOrg(t);
    const otherKey = await other.key('full');
    const otherApp = (await api(t, 'POST', '/api/v1/apps', { auth: otherKey, body: appBody() }))
      .body.data.id;
    const r = await api(t, 'POST', links(otherApp), { auth: otherKey, body: { id: 'taken-id' } });
    expect(r.status).toBe(409);
    expect(r.body.error.details).toEqual([{ path: 'id', message: 'taken' }]);
    await api(t, 'DELETE', `${links()}/taken-id`, { auth: key });
    expect((await api(t, 'POST', links(), { auth: key, body: { id: 'taken-id' } })).status).toBe(
      409,
    );
  });

  it('reads, updates, archives and deletes', async () => {
    await api(t, 'POST', links(), { auth: key, body: { id: 'crud-link', network: 'meta' } });
    const got = await api(t, 'GET', `${links()}/crud-link`, { auth: key });
    expect(got.status).toBe(200);
    const patched = await api(t, 'PATCH', `${links()}/crud-link`, {
      auth: key,
      body: {
        network: 'tiktok',
        campaignName: 'Q4',
        destinations: { web: 'https://fittrack.example/promo' },
        customData: { offer: 'trial7' },
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({
      network: 'tiktok',
      campaignName: 'Q4',
      destinations: { ios: null, android: null, web: 'https://fittrack.example/promo' },
      customData: { offer: 'trial7' },
    });
    const cleared = await api(t, 'PATCH', `${links()}/crud-link`, {
      auth: key,
      body: { campaignName: null, destinations: { web: null } },
    });
    expect(cleared.body.data).toMatchObject({
      campaignName: null,
      destinations: { web: null },
      customData: { offer: 'trial7' },
    });
    const archived = await api(t, 'PATCH', `${links()}/crud-link`, {
      auth: key,
      body: { archived: true },
    });
    expect(archived.body.data.archived).toBe(true);
    const listed = await api(t, 'GET', `${links()}?limit=200`, { auth: key });
    expect(listed.body.data.map((l: { id: string }) => l.id)).not.toContain('crud-link');
    const withArchived = await api(t, 'GET', `${links()}?limit=200&includeArchived=true`, {
      auth: key,
    });
    expect(withArchived.body.data.map((l: { id: string }) => l.id)).toContain('crud-link');

    const del = await api(t, 'DELETE', `${links()}/crud-link`, { auth: key });
    expect(del.status).toBe(204);
    expect((await api(t, 'GET', `${links()}/crud-link`, { auth: key })).status).toBe(404);
    expect(
      (await api(t, 'PATCH', `${links()}/crud-link`, { auth: key, body: { name: 'x' } })).status,
    ).toBe(404);
    expect((await api(t, 'DELETE', `${links()}/crud-link`, { auth: key })).status).toBe(404);
    // History stays: the row is kept.
    const [row] = await t.sql`select deleted_at from links where id = 'crud-link'`;
    expect(row.deleted_at).toBeInstanceOf(Date);
  });

  it('paginates with a stable cursor and rejects a tampered one', async () => {
    const appRes = await api(t, 'POST', '/api/v1/apps', {
      auth: key,
      body: appBody({ name: 'Paged' }),
    });
    const pagedApp = appRes.body.data.id;
    for (let i = 0; i < 5; i++)
      await api(t, 'POST', links(pagedApp), { auth: key, body: { id: `paged-${i}` } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: any = await api(
        t,
        'GET',
        `${links(pagedApp)}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { auth: key },
      );
      expect(r.status).toBe(200);
      seen.push(...r.body.data.map((l: { id: string }) => l.id));
      cursor = r.body.meta.cursor;
      expect(r.body.meta.hasMore).toBe(cursor !== null);
    } while (cursor);
    expect(seen).toEqual(['paged-4', 'paged-3', 'paged-2', 'paged-1', 'paged-0']);
    const first = await api(t, 'GET', `${links(pagedApp)}?limit=2`, { auth: key });
    const bad = await api(
      t,
      'GET',
      `${links(pagedApp)}?limit=2&cursor=${first.body.meta.cursor}x`,
      { auth: key },
    );
    expect(bad.status).toBe(400);
    const foreign = await api(t, 'GET', `${links()}?limit=2&cursor=${first.body.meta.cursor}`, {
      auth: key,
    });
    expect(foreign.status).toBe(400);
  });

  it('honours permissions: read_only reads, analytics is refused, app-limited keys see other apps as 404', async () => {
    await api(t, 'POST', links(), { auth: key, body: { id: 'perm-link' } });
    const ro = await org.key('read_only');
    expect((await api(t, 'GET', links(), { auth: ro })).status).toBe(200);
    expect((await api(t, 'GET', `${links()}/perm-link`, { auth: ro })).status).toBe(200);
    expect((await api(t, 'POST', links(), { auth: ro, body: {} })).status).toBe(403);
    expect(
      (await api(t, 'PATCH', `${links()}/perm-link`, { auth: ro, body: { name: 'x' } })).status,
    ).toBe(403);
    expect((await api(t, 'DELETE', `${links()}/perm-link`, { auth: ro })).status).toBe(403);
    const an = await org.key('analytics');
    expect((await api(t, 'GET', links(), { auth: an })).status).toBe(403);
    const elsewhere = (
      await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody({ name: 'Elsewhere' }) })
    ).body.data.id;
    const limited = await org.key('full', [elsewhere]);
    expect((await api(t, 'GET', links(), { auth: limited })).status).toBe(404);
    expect((await api(t, 'GET', `${links()}/perm-link`, { auth: limited })).status).toBe(404);
    expect((await api(t, 'GET', links())).status).toBe(401);
    // Another organization's app is a 404 too.
    const other = await createOrg(t);
    expect((await api(t, 'GET', links(), { auth: await other.key('full') })).status).toBe(404);
    // A link of another app of the same org is not reachable through this app.
    const app2 = (
      await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody({ name: 'Second' }) })
    ).body.data.id;
    expect((await api(t, 'GET', `${links(app2)}/perm-link`, { auth: key })).status).toBe(404);
  });

  it('works with a dashboard session (CSRF on mutations)', async () => {
    const r = await api(t, 'POST', links(), { auth: org.session, body: { id: 'session-link' } });
    expect(r.status).toBe(201);
    const noCsrf = await api(t, 'POST', links(), {
      headers: { cookie: org.session.cookie, 'content-type': 'application/json' },
      rawBody: '{}',
    });
    expect(noCsrf.status).toBe(403);
  });

  it('is in the OpenAPI document', async () => {
    const r = await fetch(`${t.url}/openapi.json`);
    const doc = await r.json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/v1/apps/{appId}/links', '/api/v1/apps/{appId}/links/{linkId}']),
    );
    expect(Object.keys(doc.paths['/api/v1/apps/{appId}/links/{linkId}'])).toEqual(
      expect.arrayContaining(['get', 'patch', 'delete']),
    );
    expect(doc.components.schemas).toHaveProperty('Link');
    expect(doc.components.schemas).toHaveProperty('LinkCreate');
  });
});
