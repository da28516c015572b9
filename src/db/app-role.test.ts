import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pino from 'pino';
import { loadConfig } from '../config.ts';
import {
  api,
  appBody,
  createOrg,
  createTestDatabase,
  startTestServer,
  type TestServer,
} from '../../test/helpers.ts';
import { withDatabase } from '../../test/global-setup.ts';
import { randomBase62 } from '../lib/crypto.ts';
import { migrateAsOwner } from '../runtime.ts';
import { createSql, type Sql } from './client.ts';
import { APP_ROLE, ensureAppRole } from './app-role.ts';

const SECRET = 'test-secret-key-0123456789abcdef0123456789';

/** A database and the least-privilege role a server works as on it. */
type Setup = { serverUrl: string; role: string; close: () => Promise<void> };

/** The embedded database's way: migrated by the superuser, which creates `apprefer_app`. */
async function embeddedAppRole(): Promise<Setup> {
  const db = await createTestDatabase();
  const config = loadConfig({
    DATA_DIR: '/tmp/apprefer-role-test',
    SECRET_KEY: SECRET,
    DATABASE_URL: db.url,
  });
  const serverUrl = await ensureAppRole(db.sql, db.url, config);
  await ensureAppRole(db.sql, db.url, config); // idempotent: every start runs it
  return { serverUrl, role: APP_ROLE, close: () => db.drop() };
}

/**
 * DATABASE_URL with DATABASE_OWNER_URL: an empty database owned by an ordinary role (no
 * superuser, as on a managed PostgreSQL), and a second role the operator made for the server.
 */
async function operatorRoles(): Promise<Setup> {
  const admin = createSql(inject('pgAdminUrl'), { max: 1 });
  const tag = randomBase62(8).toLowerCase();
  const [owner, role, name] = [`t_owner_${tag}`, `t_server_${tag}`, `t_split_${tag}`];
  await admin.unsafe(`create role ${owner} login password 'owner-pw'`);
  await admin.unsafe(`create role ${role} login password 'server-pw'`);
  await admin.unsafe(`create database ${name} owner ${owner} template template0`);
  const at = (user: string, password: string) => {
    const u = new URL(withDatabase(inject('pgAdminUrl'), name));
    Object.assign(u, { username: user, password });
    return u.href;
  };
  const serverUrl = at(role, 'server-pw');
  const config = loadConfig({
    DATA_DIR: '/tmp/apprefer-role-test',
    SECRET_KEY: SECRET,
    DATABASE_URL: serverUrl,
    DATABASE_OWNER_URL: at(owner, 'owner-pw'),
  });
  const log = pino({ level: 'silent' });
  const db = { sql: createSql(serverUrl, { max: 1 }), url: serverUrl };
  await migrateAsOwner(config, db, log);
  await migrateAsOwner(config, db, log); // every start runs it: nothing to apply, grants refreshed
  await db.sql.end();
  return {
    serverUrl,
    role,
    close: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.unsafe(`drop role if exists ${role}`);
      await admin.unsafe(`drop role if exists ${owner}`);
      await admin.end();
    },
  };
}

describe.each([
  ["the embedded database's application role", embeddedAppRole],
  ["DATABASE_URL's role, granted by DATABASE_OWNER_URL", operatorRoles],
])('%s', (_, makeSetup) => {
  let setup: Setup;
  let asApp: Sql;
  let t: TestServer;
  beforeAll(async () => {
    setup = await makeSetup();
    asApp = createSql(setup.serverUrl, { max: 2 });
    // A whole server working as that role, job runner included.
    t = await startTestServer(
      { SECRET_KEY: SECRET },
      { url: setup.serverUrl, sql: createSql(setup.serverUrl), drop: async () => {} },
    );
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await asApp?.end({ timeout: 5 });
    await setup?.close();
  });

  it('is not a superuser and connects as itself', async () => {
    const [r] = await asApp<{ user: string; su: boolean }[]>`
      select current_user as user, rolsuper as su from pg_roles where rolname = current_user`;
    expect(r).toEqual({ user: setup.role, su: false });
  });

  it('cannot change the schema, create roles or read server files', async () => {
    for (const statement of [
      'create table intruder (x int)',
      'drop table organizations',
      'alter table apps add column x int',
      'truncate clicks',
      `create role intruder`,
      `alter role ${setup.role} superuser`,
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

it('DATABASE_OWNER_URL alone is refused, naming what it needs', () => {
  expect(() =>
    loadConfig({
      DATA_DIR: '/tmp/apprefer-role-test',
      SECRET_KEY: SECRET,
      DATABASE_OWNER_URL: 'postgres://owner@127.0.0.1/x',
    }),
  ).toThrow(/DATABASE_OWNER_URL: needs DATABASE_URL/);
});
