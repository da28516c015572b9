import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { createSql } from '../src/db/client.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { ensureDashboardBuilt } from '../src/modules/dashboard/build.ts';

/**
 * One real PostgreSQL for the whole run (embedded, or TEST_DATABASE_URL). The schema is migrated
 * once into a template database; every test file clones it into a fresh database of its own.
 */
export const TEMPLATE_DB = 'apprefer_template';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

type Shared = { adminUrl: string; users: number; stop: () => Promise<void> };
/**
 * Every vitest project (vitest.config.ts) runs this setup, each in its own module instance of the
 * same process: the first starts the database and builds the dashboard, the others reuse them
 * (kept on globalThis), and the last teardown stops it.
 */
const SHARED = Symbol.for('apprefer.test.database');
const store = globalThis as unknown as { [SHARED]?: Promise<Shared> };

export default async function setup(project: TestProject) {
  store[SHARED] ??= startShared();
  const shared = await store[SHARED];
  shared.users++;
  project.provide('pgAdminUrl', shared.adminUrl);
  return async () => {
    if (--shared.users === 0) await shared.stop();
  };
}

async function startShared(): Promise<Shared> {
  let adminUrl = process.env.TEST_DATABASE_URL;
  let stop = async () => {};
  let dir: string | undefined;
  if (!adminUrl) {
    dir = mkdtempSync(path.join(tmpdir(), 'apprefer-test-'));
    chmodSync(dir, 0o755); // the embedded server may run as the unprivileged `postgres` user
    // Durability settings off: tests exercise behaviour, not crash safety (benchmarks keep them on).
    const pg = await startEmbeddedPostgres(dir, {
      extraFlags: [
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=500',
      ],
    });
    adminUrl = pg.url;
    stop = pg.stop;
  }
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`drop database if exists ${TEMPLATE_DB}`);
  await admin.unsafe(`create database ${TEMPLATE_DB}`);
  const templateUrl = withDatabase(adminUrl, TEMPLATE_DB);
  const template = createSql(templateUrl, { max: 1 });
  await migrate(template, templateUrl);
  await template.end();
  await admin.end();
  // Once for the run: servers the tests spawn (`apprefer serve`) then find the dashboard up to date.
  await ensureDashboardBuilt({ info: () => {} });
  return {
    adminUrl,
    users: 0,
    stop: async () => {
      await stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function withDatabase(url: string, db: string) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
