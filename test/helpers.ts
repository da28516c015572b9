import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../src/config.ts';
import { createSql, type Sql } from '../src/db/client.ts';
import { buildServer } from '../src/http/server.ts';
import type { ApiInstance } from '../src/http/types.ts';
import { MODULES } from '../src/modules/index.ts';
import { createServices } from '../src/runtime.ts';
import { JOBS } from '../src/jobs.ts';
import { startJobRunner, type JobRunner } from '../src/queue/runner.ts';
import { createOrganizationWithOwner, createSession } from '../src/modules/auth/accounts.ts';
import { createApiKey } from '../src/modules/api-keys/keys.ts';
import type { Permission } from '../src/modules/auth/principal.ts';
import { randomBase62 } from '../src/lib/crypto.ts';
import { TEMPLATE_DB, withDatabase } from './global-setup.ts';

export type TestServer = {
  url: string;
  sql: Sql;
  app: ApiInstance;
  config: Config;
  close: () => Promise<void>;
};

/** A fresh database cloned from the migrated template, for one test file. */
export async function createTestDatabase(): Promise<{
  url: string;
  sql: Sql;
  drop: () => Promise<void>;
}> {
  const adminUrl = inject('pgAdminUrl');
  const name = `t_${randomBase62(12).toLowerCase()}`;
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${name} template ${TEMPLATE_DB}`);
  const url = withDatabase(adminUrl, name);
  const sql = createSql(url, { max: 10 });
  return {
    url,
    sql,
    drop: async () => {
      await sql.end({ timeout: 5 });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * A real server on a random port with its own database and, as `apprefer serve` has, a job runner
 * (`jobs: false` leaves it out). `env` overrides configuration.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  existing?: Awaited<ReturnType<typeof createTestDatabase>>,
  opts: { jobs?: boolean } = {},
): Promise<TestServer> {
  const db = existing ?? (await createTestDatabase());
  const dataDir = mkdtempSync(path.join(tmpdir(), 'apprefer-data-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789',
    PUBLIC_URL: 'http://api.test.local',
    TRACKING_URL: 'http://trk.test.local',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.url,
    // Outside services default to a closed port on this machine: a test that forgets its fake
    // gets a refused connection, never a request to the real service.
    APPLE_ADSERVICES_URL: 'http://127.0.0.1:9/apple/',
    META_GRAPH_URL: 'http://127.0.0.1:9/meta/',
    TIKTOK_API_URL: 'http://127.0.0.1:9/tiktok/',
    GOOGLE_ADS_API_URL: 'http://127.0.0.1:9/google-ads/',
    GOOGLE_OAUTH_TOKEN_URL: 'http://127.0.0.1:9/google-oauth/token',
    ...env,
  });
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const services = createServices(config, db.sql, log);
  const app = await buildServer(services, MODULES);
  const jobs: JobRunner | null =
    opts.jobs === false ? null : await startJobRunner(services, JOBS, { stopTimeoutMs: 10_000 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    sql: db.sql,
    app,
    config,
    close: async () => {
      // The runner's pool must be closed before the database is dropped: a stop cut short left
      // its connections to be terminated, an unhandled error in the test run (CI saw it once).
      await Promise.all([app.close(), jobs?.stop()]);
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type Org = {
  orgId: string;
  userId: string;
  session: { cookie: string; csrfToken: string };
  key: (p?: Permission, appIds?: string[] | null) => Promise<string>;
};

/** An organization with an owner, a logged-in session and a way to mint API keys. */
export async function createOrg(t: TestServer, name = `Org ${randomBase62(6)}`): Promise<Org> {
  const email = `${randomBase62(8).toLowerCase()}@example.com`;
  const { organization, userId } = await createOrganizationWithOwner(t.sql, {
    org: name,
    email,
    password: 'correct horse battery',
  });
  const s = await createSession(t.sql, userId, organization.id);
  return {
    orgId: organization.id,
    userId,
    session: { cookie: `apprefer_session=${s.token}`, csrfToken: s.csrfToken },
    key: async (permission: Permission = 'full', appIds: string[] | null = null) =>
      (
        await createApiKey(t.sql, {
          orgId: organization.id,
          name: `k-${permission}`,
          permission,
          appIds,
          createdBy: userId,
        })
      ).key,
  };
}

export type ApiResponse<T = any> = { status: number; headers: Headers; body: T };

/** fetch with JSON in and out; `auth` is an API key or a session. */
export async function api<T = any>(
  t: TestServer,
  method: string,
  path: string,
  opts: {
    auth?: string | Org['session'];
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (typeof opts.auth === 'string') headers.authorization = `Bearer ${opts.auth}`;
  else if (opts.auth) {
    headers.cookie = opts.auth.cookie;
    if (method !== 'GET') headers['x-csrf-token'] = opts.auth.csrfToken;
  }
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(t.url + path, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/** A valid app body; override fields per test. */
export const appBody = (over: Record<string, unknown> = {}) => ({
  name: 'FitTrack',
  ios: { bundleId: 'com.example.fittrack', appStoreId: '1234567890' },
  android: { packageName: 'com.example.fittrack' },
  timezone: 'America/New_York',
  currency: 'USD',
  ...over,
});

/** Polls `check` until it returns a truthy value; throws after `ms`. */
export async function eventually<T>(
  check: () => Promise<T | null | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
