import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, runMigrations } from 'graphile-worker';
import type { ReservedSql } from 'postgres';
import type { Sql } from './client.ts';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
const LOCK_ID = 727_001; // pg_advisory_lock key: one migrator at a time across processes
const silentLogger = new Logger(() => () => {});

/**
 * Brings the database up to date: first the job queue's schema (graphile-worker's own migrations,
 * schema `graphile_worker`), then the ordered files in src/db/migrations that have not run yet,
 * each in a transaction. `url` is the database `sql` connects to (graphile-worker uses node-postgres).
 */
export async function migrate(sql: Sql, url: string): Promise<string[]> {
  const conn = await sql.reserve();
  try {
    await conn`select pg_advisory_lock(${LOCK_ID})`;
    try {
      await runMigrations({ connectionString: url, logger: silentLogger });
      return await applyFiles(conn);
    } finally {
      await conn`select pg_advisory_unlock(${LOCK_ID})`;
    }
  } finally {
    conn.release();
  }
}

/** All pending files in one transaction, on the connection that holds the migration lock. */
async function applyFiles(conn: ReservedSql): Promise<string[]> {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const applied: string[] = [];
  await conn`begin`;
  try {
    await conn`create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())`;
    const done = new Set(
      (await conn<{ name: string }[]>`select name from schema_migrations`).map((r) => r.name),
    );
    for (const file of files) {
      if (done.has(file)) continue;
      await conn.unsafe(readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8'));
      await conn`insert into schema_migrations (name) values (${file})`;
      applied.push(file);
    }
    await conn`commit`;
  } catch (err) {
    await conn`rollback`.catch(() => {});
    throw err;
  }
  return applied;
}
