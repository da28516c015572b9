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

export default async function setup(project: TestProject) {
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
  project.provide('pgAdminUrl', adminUrl);
  // Once for the run: servers the tests spawn (`apprefer serve`) then find the dashboard up to date.
  await ensureDashboardBuilt({ info: () => {} });

  return async () => {
    await stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}

export function withDatabase(url: string, db: string) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
