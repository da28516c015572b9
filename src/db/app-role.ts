/**
 * The least-privilege role the server uses on the embedded PostgreSQL (docs/security.md): it can
 * read and write the application's rows and run the job queue, never change the schema, create
 * roles or databases, or read files. Migrations run first as the owner (the embedded superuser);
 * then the grants are brought up to date for every table, including those a migration just added.
 * Its password is derived from SECRET_KEY, so nothing more is stored and every server process on
 * the database computes the same one.
 */
import type { Config } from '../config.ts';
import { hmac } from '../lib/crypto.ts';
import type { TransactionSql } from 'postgres';
import type { Sql } from './client.ts';

export const APP_ROLE = 'apprefer_app';

export const appRolePassword = (config: Pick<Config, 'secretKey'>) =>
  hmac(config.secretKey, 'apprefer:database-app-role').toString('hex');

/** Creates or updates the role and its grants (as the owner); returns the URL to connect as it. */
export async function ensureAppRole(owner: Sql, ownerUrl: string, config: Config): Promise<string> {
  const password = appRolePassword(config); // hex: safe inside a literal
  const [{ db }] = await owner<{ db: string }[]>`select current_database() as db`;
  await owner.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('apprefer:app-role'))`;
    const [exists] = await tx`select 1 from pg_roles where rolname = ${APP_ROLE}`;
    if (!exists) await tx.unsafe(`create role ${APP_ROLE} login`);
    await tx.unsafe(
      `alter role ${APP_ROLE} with login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password '${password}'`,
    );
    await tx.unsafe(`grant connect, temporary on database ${ident(db)} to ${APP_ROLE}`);
    await grantRows(tx, APP_ROLE);
  });
  const url = new URL(ownerUrl);
  url.username = APP_ROLE;
  url.password = password;
  return url.href;
}

/**
 * DATABASE_URL with DATABASE_OWNER_URL: the operator's role gets the same rights as the embedded
 * database's application role (it exists already and can connect: the operator made it).
 */
export async function grantToServerRole(owner: Sql, serverUrl: string): Promise<string> {
  const role = decodeURIComponent(new URL(serverUrl).username);
  await owner.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('apprefer:app-role'))`;
    await grantRows(tx, role);
  });
  return role;
}

/**
 * Reading and writing the application's rows and running the job queue; nothing else. Run at
 * every start, so tables added by later migrations are covered.
 */
async function grantRows(tx: TransactionSql, role: string) {
  const r = ident(role);
  for (const schema of ['public', 'graphile_worker']) {
    await tx.unsafe(`grant usage on schema ${schema} to ${r}`);
    await tx.unsafe(
      `grant select, insert, update, delete on all tables in schema ${schema} to ${r}`,
    );
    await tx.unsafe(`grant usage, select, update on all sequences in schema ${schema} to ${r}`);
    await tx.unsafe(`grant execute on all functions in schema ${schema} to ${r}`);
  }
  // The analytics fold empties its scratch tables with TRUNCATE: no dead rows for the next
  // fold to step over (migration 0015). Those tables only.
  await tx.unsafe(
    `grant truncate on analytics_fold_claimed, analytics_fold_deltas, analytics_fold_purchases to ${r}`,
  );
  // graphile-worker's queue tables enable row-level security with no policy, so that only their
  // owner may use them: a policy per table lets this role use every row (no BYPASSRLS needed,
  // which only a superuser may grant).
  const policy = `apprefer_rows_${role}`.slice(0, 63);
  const tables = await tx<{ name: string }[]>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'graphile_worker' and c.relkind in ('r', 'p') and c.relrowsecurity
      and not exists (select 1 from pg_policies p
        where p.schemaname = n.nspname and p.tablename = c.relname and p.policyname = ${policy})`;
  for (const { name } of tables)
    await tx.unsafe(
      `create policy ${ident(policy)} on graphile_worker.${ident(name)} for all to ${r} using (true) with check (true)`,
    );
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
