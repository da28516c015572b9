import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type TestServer,
} from '../../../test/helpers.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ API_RATE_LIMIT_PER_MINUTE: '20' });
});
afterAll(() => t?.close());

describe('API key management (session only)', () => {
  it('creates a key shown once, stores only its hash, lists it without the secret, and records lastUsedAt', async () => {
    const org = await createOrg(t);
    const r = await api(t, 'POST', '/api/v1/api-keys', {
      auth: org.session,
      body: { name: 'Reporting', permission: 'analytics' },
    });
    expect(r.status).toBe(201);
    const { key, id } = r.body.data;
    expect(key).toMatch(/^ak_live_[A-Za-z0-9]{40}$/);
    expect(r.body.data.last4).toBe(key.slice(-4));
    expect(r.body.data.lastUsedAt).toBeNull();

    const [row] = await t.sql<
      { key_hash: Buffer }[]
    >`select key_hash from api_keys where id = ${id}`;
    expect(row.key_hash.toString('hex')).toBe(createHash('sha256').update(key).digest('hex'));
    const dump = JSON.stringify(await t.sql`select * from api_keys`);
    expect(dump).not.toContain(key.slice(8));

    const listed = await api(t, 'GET', '/api/v1/api-keys', { auth: org.session });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0]).not.toHaveProperty('key');
    expect(listed.body.meta).toEqual({ hasMore: false, cursor: null });

    expect((await api(t, 'GET', '/api/v1/me', { auth: key })).status).toBe(200);
    const after = await api(t, 'GET', '/api/v1/api-keys', { auth: org.session });
    expect(after.body.data[0].lastUsedAt).not.toBeNull();
  });

  it('API-key endpoints refuse API keys, even full ones', async () => {
    const org = await createOrg(t);
    const full = await org.key('full');
    for (const [method, path, body] of [
      ['GET', '/api/v1/api-keys'],
      ['POST', '/api/v1/api-keys', { name: 'x', permission: 'full' }],
      ['DELETE', '/api/v1/api-keys/key_x'],
    ] as const) {
      const r = await api(t, method, path, { auth: full, body });
      expect(r.status, `${method} ${path}`).toBe(403);
    }
  });

  it('a key limited to apps must name apps of the organization', async () => {
    const org = await createOrg(t);
    const other = await createOrg(t);
    const foreignApp = (
      await api(t, 'POST', '/api/v1/apps', { auth: await other.key('full'), body: appBody() })
    ).body.data;
    const r = await api(t, 'POST', '/api/v1/api-keys', {
      auth: org.session,
      body: { name: 'x', permission: 'full', appIds: [foreignApp.id] },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].path).toBe('appIds.0');
    const bad = await api(t, 'POST', '/api/v1/api-keys', {
      auth: org.session,
      body: { name: 'x', permission: 'admin' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('permission');
  });

  it("revoking another organization's key → 404", async () => {
    const a = await createOrg(t);
    const b = await createOrg(t);
    const created = await api(t, 'POST', '/api/v1/api-keys', {
      auth: a.session,
      body: { name: 'x', permission: 'full' },
    });
    expect(
      (await api(t, 'DELETE', `/api/v1/api-keys/${created.body.data.id}`, { auth: b.session }))
        .status,
    ).toBe(404);
    expect((await api(t, 'GET', '/api/v1/me', { auth: created.body.data.key })).status).toBe(200);
  });

  it('/me describes the caller', async () => {
    const org = await createOrg(t, 'Me Corp');
    const app = (
      await api(t, 'POST', '/api/v1/apps', { auth: await org.key('full'), body: appBody() })
    ).body.data;
    const key = await org.key('read_only', [app.id]);
    const r = await api(t, 'GET', '/api/v1/me', { auth: key });
    expect(r.body.data).toMatchObject({
      organization: { id: org.orgId, name: 'Me Corp' },
      permission: 'read_only',
      appIds: [app.id],
      user: null,
    });
    expect(r.body.data.apiKey.id).toMatch(/^key_/);
  });
});

describe('per-key rate limit', () => {
  it('sends X-RateLimit-* on every response and 429 with Retry-After past the limit, per key', async () => {
    const org = await createOrg(t);
    const key = await org.key('full');
    const first = await api(t, 'GET', '/api/v1/apps', { auth: key });
    expect(first.headers.get('x-ratelimit-limit')).toBe('20');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('19');
    expect(Number(first.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    let last = first;
    for (let i = 0; i < 20; i++) last = await api(t, 'GET', '/api/v1/apps', { auth: key });
    expect(last.status).toBe(429);
    expect(last.body.error.code).toBe('rate_limited');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another key of the same organization has its own budget.
    const other = await org.key('full');
    expect((await api(t, 'GET', '/api/v1/apps', { auth: other })).status).toBe(200);
  });
});

describe('request ids', () => {
  it('echoes a valid incoming X-Request-Id and replaces an invalid one', async () => {
    const ok = await api(t, 'GET', '/healthz', { headers: { 'x-request-id': 'trace-123' } });
    expect(ok.headers.get('x-request-id')).toBe('trace-123');
    const bad = await api(t, 'GET', '/healthz', {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(bad.headers.get('x-request-id')).toMatch(/^req_[A-Za-z0-9]{16}$/);
    const notFound = await api(t, 'GET', '/api/v1/nothing-here');
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.requestId).toBe(notFound.headers.get('x-request-id'));
  });
});
