import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type TestServer,
} from '../../../test/helpers.ts';
import { setupToken } from './setup-token.ts';

describe('setup, login, logout, CSRF', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t?.close());

  const owner = {
    organizationName: 'Acme',
    email: 'Owner@Example.com',
    password: 'correct horse battery',
  };
  const cookieOf = (r: { headers: Headers }) => r.headers.get('set-cookie')!.split(';')[0];

  it('setup needs the setup token printed at start', async () => {
    const none = await api(t, 'POST', '/api/v1/auth/setup', { body: owner });
    expect(none.status).toBe(400);
    expect(none.body.error.message).toContain('setupToken');
    const wrong = await api(t, 'POST', '/api/v1/auth/setup', {
      body: { ...owner, setupToken: 'x'.repeat(32) },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.details[0].path).toBe('setupToken');
    const [{ count }] = await t.sql<{ count: string }[]>`select count(*) from organizations`;
    expect(count).toBe('0');
  });

  it('setup creates the first organization and owner, logs in, and only works once', async () => {
    const r = await api(t, 'POST', '/api/v1/auth/setup', {
      body: { ...owner, setupToken: setupToken(t.config) },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.role).toBe('owner');
    expect(r.body.data.organization.name).toBe('Acme');
    expect(r.body.data.csrfToken).toMatch(/^[A-Za-z0-9]{32}$/);
    const setCookie = r.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^apprefer_session=[A-Za-z0-9]+;/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Lax');

    const me = await api(t, 'GET', '/api/v1/me', { headers: { cookie: cookieOf(r) } });
    expect(me.status).toBe(200);
    expect(me.body.data.user.role).toBe('owner');
    expect(me.body.data.permission).toBe('full');

    const again = await api(t, 'POST', '/api/v1/auth/setup', {
      body: { ...owner, email: 'other@example.com', setupToken: setupToken(t.config) },
    });
    expect(again.status).toBe(409);
    const [{ count }] = await t.sql<{ count: string }[]>`select count(*) from users`;
    expect(count).toBe('1');
    // The password is stored as a slow hash, never in clear.
    const [u] = await t.sql<{ password_hash: string }[]>`select password_hash from users`;
    expect(u.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(u.password_hash).not.toContain(owner.password);
  });

  it('login checks the password (email case-insensitive); logout ends the session', async () => {
    const wrong = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: owner.email, password: 'wrong password!' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthorized');
    const unknown = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'whatever12345' },
    });
    expect(unknown.status).toBe(401);

    const r = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: 'owner@example.com', password: owner.password },
    });
    expect(r.status).toBe(200);
    const session = { cookie: cookieOf(r), csrfToken: r.body.data.csrfToken };
    expect((await api(t, 'GET', '/api/v1/apps', { auth: session })).status).toBe(200);

    const out = await api(t, 'POST', '/api/v1/auth/logout', { auth: session });
    expect(out.status).toBe(204);
    expect((await api(t, 'GET', '/api/v1/apps', { auth: session })).status).toBe(401);
  });

  it('a mutation with a session needs the right X-CSRF-Token', async () => {
    const r = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: owner.email, password: owner.password },
    });
    const cookie = cookieOf(r);
    const none = await api(t, 'POST', '/api/v1/apps', { headers: { cookie }, body: appBody() });
    expect(none.status).toBe(403);
    expect(none.body.error.message).toContain('X-CSRF-Token');
    const wrong = await api(t, 'POST', '/api/v1/apps', {
      headers: { cookie, 'x-csrf-token': 'x'.repeat(32) },
      body: appBody(),
    });
    expect(wrong.status).toBe(403);
    const ok = await api(t, 'POST', '/api/v1/apps', {
      headers: { cookie, 'x-csrf-token': r.body.data.csrfToken },
      body: appBody(),
    });
    expect(ok.status).toBe(201);
    // Reads need no CSRF token.
    expect((await api(t, 'GET', '/api/v1/apps', { headers: { cookie } })).status).toBe(200);
  });

  it('setup and login validate their bodies', async () => {
    const r = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: 'not-an-email', password: 'x' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(['email', 'password']),
    );
  });
});

describe('login rate limit', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ LOGIN_RATE_LIMIT_PER_MINUTE: '5' });
  });
  afterAll(() => t?.close());

  it('more than the allowed attempts per minute from one IP → 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: any;
    for (let i = 0; i < 7; i++) {
      last = await api(t, 'POST', '/api/v1/auth/login', {
        body: { email: 'someone@example.com', password: `guess-number-${i}` },
      });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect(last.body.error.code).toBe('rate_limited');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('API keys: authentication and permissions', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t?.close());

  it('no key, a malformed key, an unknown key and a revoked key → 401', async () => {
    const org = await createOrg(t);
    expect((await api(t, 'GET', '/api/v1/apps')).status).toBe(401);
    const malformed = await api(t, 'GET', '/api/v1/apps', {
      headers: { authorization: 'Bearer nope' },
    });
    expect(malformed.status).toBe(401);
    expect(malformed.body.error.code).toBe('unauthorized');
    expect(
      (await api(t, 'GET', '/api/v1/apps', { auth: `ak_live_${'A'.repeat(40)}` })).status,
    ).toBe(401);

    const created = await api(t, 'POST', '/api/v1/api-keys', {
      auth: org.session,
      body: { name: 'ci', permission: 'full' },
    });
    const key = created.body.data.key;
    expect((await api(t, 'GET', '/api/v1/apps', { auth: key })).status).toBe(200);
    const revoked = await api(t, 'DELETE', `/api/v1/api-keys/${created.body.data.id}`, {
      auth: org.session,
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body.data.revokedAt).not.toBeNull();
    expect((await api(t, 'GET', '/api/v1/apps', { auth: key })).status).toBe(401);
  });

  it('analytics key on POST /apps → 403; read-only key on PATCH → 403 but may read', async () => {
    const org = await createOrg(t);
    const full = await org.key('full');
    const app = (await api(t, 'POST', '/api/v1/apps', { auth: full, body: appBody() })).body.data;

    const analytics = await org.key('analytics');
    const post = await api(t, 'POST', '/api/v1/apps', { auth: analytics, body: appBody() });
    expect(post.status).toBe(403);
    expect(post.body.error.code).toBe('forbidden');
    expect((await api(t, 'GET', `/api/v1/apps/${app.id}`, { auth: analytics })).status).toBe(403);

    const readOnly = await org.key('read_only');
    expect((await api(t, 'GET', `/api/v1/apps/${app.id}`, { auth: readOnly })).status).toBe(200);
    const patch = await api(t, 'PATCH', `/api/v1/apps/${app.id}`, {
      auth: readOnly,
      body: { name: 'Hacked' },
    });
    expect(patch.status).toBe(403);
    expect((await api(t, 'GET', `/api/v1/apps/${app.id}`, { auth: full })).body.data.name).toBe(
      'FitTrack',
    );
  });

  it('a key limited to app A reading app B → 404; listing shows only A', async () => {
    const org = await createOrg(t);
    const full = await org.key('full');
    const a = (await api(t, 'POST', '/api/v1/apps', { auth: full, body: appBody({ name: 'A' }) }))
      .body.data;
    const b = (await api(t, 'POST', '/api/v1/apps', { auth: full, body: appBody({ name: 'B' }) }))
      .body.data;
    const onlyA = await org.key('full', [a.id]);
    expect((await api(t, 'GET', `/api/v1/apps/${a.id}`, { auth: onlyA })).status).toBe(200);
    const other = await api(t, 'GET', `/api/v1/apps/${b.id}`, { auth: onlyA });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('not_found');
    expect(
      (await api(t, 'PATCH', `/api/v1/apps/${b.id}`, { auth: onlyA, body: { name: 'x' } })).status,
    ).toBe(404);
    const listed = await api(t, 'GET', '/api/v1/apps', { auth: onlyA });
    expect(listed.body.data.map((x: { id: string }) => x.id)).toEqual([a.id]);
  });

  it("another organization's app → 404, never 403", async () => {
    const mine = await createOrg(t);
    const theirs = await createOrg(t);
    const theirApp = (
      await api(t, 'POST', '/api/v1/apps', { auth: await theirs.key('full'), body: appBody() })
    ).body.data;
    const myKey = await mine.key('full');
    expect((await api(t, 'GET', `/api/v1/apps/${theirApp.id}`, { auth: myKey })).status).toBe(404);
    expect(
      (await api(t, 'PATCH', `/api/v1/apps/${theirApp.id}`, { auth: myKey, body: { name: 'x' } }))
        .status,
    ).toBe(404);
    expect(
      (await api(t, 'GET', `/api/v1/apps/${theirApp.id}`, { auth: mine.session })).status,
    ).toBe(404);
  });

  it('a viewer session reads but cannot change anything', async () => {
    const org = await createOrg(t);
    await t.sql`update memberships set role = 'viewer' where user_id = ${org.userId}`;
    expect((await api(t, 'GET', '/api/v1/apps', { auth: org.session })).status).toBe(200);
    expect(
      (await api(t, 'POST', '/api/v1/apps', { auth: org.session, body: appBody() })).status,
    ).toBe(403);
    expect(
      (
        await api(t, 'POST', '/api/v1/api-keys', {
          auth: org.session,
          body: { name: 'x', permission: 'full' },
        })
      ).status,
    ).toBe(403);
    // …but may end its own session.
    expect((await api(t, 'POST', '/api/v1/auth/logout', { auth: org.session })).status).toBe(204);
    expect((await api(t, 'GET', '/api/v1/apps', { auth: org.session })).status).toBe(401);
  });

  it('a key limited to some apps changes them but cannot create apps', async () => {
    const org = await createOrg(t);
    const made = await api(t, 'POST', '/api/v1/apps', { auth: await org.key(), body: appBody() });
    const limited = await org.key('full', [made.body.data.id]);
    const create = await api(t, 'POST', '/api/v1/apps', { auth: limited, body: appBody() });
    expect(create.status).toBe(403);
    const [{ count }] = await t.sql<{ count: string }[]>`
      select count(*) from apps where org_id = ${org.orgId}`;
    expect(count).toBe('1');
    const rename = await api(t, 'PATCH', `/api/v1/apps/${made.body.data.id}`, {
      auth: limited,
      body: { name: 'Renamed' },
    });
    expect(rename.status).toBe(200);
  });
});

describe('first-run setup under a race', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, undefined, { jobs: false });
  });
  afterAll(() => t?.close());

  it('concurrent setups with the token: exactly one organization, the others 409', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api(t, 'POST', '/api/v1/auth/setup', {
          body: {
            organizationName: `Race ${i}`,
            email: `race${i}@example.com`,
            password: 'correct horse battery',
            setupToken: setupToken(t.config),
          },
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    const [{ count }] = await t.sql<{ count: string }[]>`select count(*) from organizations`;
    expect(count).toBe('1');
  });
});

describe('failed credentials per IP', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ AUTH_FAILURES_PER_MINUTE: '5' }, undefined, { jobs: false });
  });
  afterAll(() => t?.close());

  it('after the allowed failures a client gets 429 without a lookup, even with a valid key it never used', async () => {
    const org = await createOrg(t);
    const good = await org.key();
    for (let i = 0; i < 5; i++) {
      const r = await api(t, 'GET', '/api/v1/apps', { auth: `ak_live_${'y'.repeat(40)}` });
      expect(r.status).toBe(401);
    }
    const over = await api(t, 'GET', '/api/v1/apps', { auth: `ak_live_${'y'.repeat(40)}` });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.body.error.code).toBe('rate_limited');
    // The same IP is blocked for every credential until the minute is over.
    expect((await api(t, 'GET', '/api/v1/apps', { auth: good })).status).toBe(429);
    const cookie = await api(t, 'GET', '/api/v1/apps', {
      headers: { cookie: 'apprefer_session=nonsense' },
    });
    expect(cookie.status).toBe(429);
  });
});

describe('failed credentials behind a shared address', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ AUTH_FAILURES_PER_MINUTE: '5' }, undefined, { jobs: false });
  });
  afterAll(() => t?.close());

  it('behind a shared address, credentials that worked recently keep working while the address is blocked', async () => {
    const org = await createOrg(t);
    const script = await org.key();
    expect((await api(t, 'GET', '/api/v1/apps', { auth: script })).status).toBe(200);
    expect((await api(t, 'GET', '/api/v1/apps', { auth: org.session })).status).toBe(200);
    // A colleague's script with a revoked key exhausts the address's failures.
    for (let i = 0; i < 6; i++)
      await api(t, 'GET', '/api/v1/apps', { auth: `ak_live_${'z'.repeat(40)}` });
    expect(
      (await api(t, 'GET', '/api/v1/apps', { auth: `ak_live_${'z'.repeat(40)}` })).status,
    ).toBe(429);
    // The key and the session that worked before still do; a key never used here waits.
    expect((await api(t, 'GET', '/api/v1/apps', { auth: script })).status).toBe(200);
    expect((await api(t, 'GET', '/api/v1/apps', { auth: org.session })).status).toBe(200);
    expect((await api(t, 'GET', '/api/v1/apps', { auth: await org.key() })).status).toBe(429);
    // Revoked meanwhile: refused, and no longer let through.
    await t.sql`update api_keys set revoked_at = now() where key_hash = sha256(${script}::bytea)`;
    expect((await api(t, 'GET', '/api/v1/apps', { auth: script })).status).toBe(401);
    expect((await api(t, 'GET', '/api/v1/apps', { auth: script })).status).toBe(429);
  });
});
