import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import {
  api,
  appBody,
  createOrg,
  createTestDatabase,
  startTestServer,
  type TestServer,
} from '../../test/helpers.ts';
import { createSql, type Sql } from './client.ts';
import { APP_ROLE, ensureAppRole } from './app-role.ts';

const SECRET = 'test-secret-key-0123456789abcdef0123456789';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let appUrl: string;
let asApp: Sql;
let t: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  const config = loadConfig({
    DATA_DIR: '/tmp/apprefer-role-test',
    SECRET_KEY: SECRET,
    DATABASE_URL: db.url,
  });
  appUrl = await ensureAppRole(db.sql, db.url, config);
  await ensureAppRole(db.sql, db.url, config); // idempotent: every start runs it
  asApp = createSql(appUrl, { max: 2 });
  // A whole server working as the application role, job runner included.
  t = await startTestServer(
    { SECRET_KEY: SECRET },
    { url: appUrl, sql: createSql(appUrl), drop: async () => {} },
  );
}, 60_000);
afterAll(async () => {
  await t?.close();
  await asApp?.end({ timeout: 5 });
  await db?.drop();
});

describe('the application database role', () => {
  it('is not a superuser and connects as itself', async () => {
    const [r] = await asApp<{ user: string; su: boolean }[]>`
      select current_user as user, rolsuper as su from pg_roles where rolname = current_user`;
    expect(r).toEqual({ user: APP_ROLE, su: false });
  });

  it('cannot change the schema, create roles or read server files', async () => {
    for (const statement of [
      'create table intruder (x int)',
      'drop table organizations',
      'alter table apps add column x int',
      'truncate clicks',
      `create role intruder`,
      `alter role ${APP_ROLE} superuser`,
      "select pg_read_file('postgresql.conf')",
      "copy organizations from program 'id'",
    ])
      await expect(asApp.unsafe(statement), statement).rejects.toThrow();
  });

  it('runs the whole service: API, SDK ingestion, clicks and jobs', async () => {
    const org = await createOrg(t);
    const key = await org.key();
    const app = await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody() });
    expect(app.status).toBe(201);
    const link = await api(t, 'POST', `/api/v1/apps/${app.body.data.id}/links`, {
      auth: key,
      body: {},
    });
    expect(link.status).toBe(201);
    const click = await fetch(`${t.url}/api/c/${link.body.data.id}`, {
      headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' },
      redirect: 'manual',
    });
    expect(click.status).toBe(302);
    const configure = await fetch(`${t.url}/api/track/configure`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-apprefer-key': app.body.data.sdkKeys.live },
      body: JSON.stringify({ device_id: 'role-device', device_info: { platform: 'ios' } }),
    });
    expect(configure.status).toBe(200);
    const event = await fetch(`${t.url}/api/track/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-apprefer-key': app.body.data.sdkKeys.live },
      body: JSON.stringify({
        device_id: 'role-device',
        event_name: 'purchase',
        revenue: 4.99,
        currency: 'USD',
      }),
    });
    expect(event.status).toBe(200);
    const overview = await api(t, 'GET', `/api/v1/apps/${app.body.data.id}/overview`, {
      auth: key,
    });
    expect(overview.status).toBe(200);
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  });
});
