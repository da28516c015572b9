import type { Sql } from '../../db/client.ts';
import { hashPassword, newId, randomBase62, sha256, verifyPassword } from '../../lib/crypto.ts';
import { conflict } from '../../http/errors.ts';
import type { Role } from './principal.ts';
import type { JobContext } from '../../queue/job.ts';
import { deleteExpiredInvitations } from './team.ts';

export type Organization = { id: string; name: string; createdAt: Date };

/**
 * Creates an organization and its owner. Used by `POST /auth/setup` (first run only) and by
 * `apprefer setup` (any time, for another organization). An existing email joins the new
 * organization as its owner if the password matches; otherwise it is a conflict.
 */
export async function createOrganizationWithOwner(
  sql: Sql,
  input: { org: string; email: string; password: string; onlyIfFirst?: boolean },
) {
  const passwordHash = await hashPassword(input.password);
  return sql.begin(async (tx) => {
    if (input.onlyIfFirst) {
      // First-run setup: one at a time, and only while there is no organization at all.
      await tx`select pg_advisory_xact_lock(hashtext('apprefer:first-run-setup'))`;
      const [{ exists }] = await tx<{ exists: boolean }[]>`
        select exists (select 1 from organizations) as exists`;
      if (exists) throw conflict('Setup is already done; log in instead');
    }
    const [existing] = await tx<{ id: string; password_hash: string }[]>`
      select id, password_hash from users where lower(email) = lower(${input.email})`;
    if (existing && !(await verifyPassword(input.password, existing.password_hash))) {
      throw conflict('A user with this email exists and the password does not match');
    }
    const userId = existing?.id ?? newId('usr');
    if (!existing) {
      await tx`insert into users (id, email, password_hash) values (${userId}, ${input.email}, ${passwordHash})`;
    }
    const [org] = await tx<{ id: string; name: string; created_at: Date }[]>`
      insert into organizations (id, name) values (${randomBase62(20)}, ${input.org}) returning id, name, created_at`;
    await tx`insert into memberships (org_id, user_id, role) values (${org.id}, ${userId}, 'owner')`;
    return { organization: { id: org.id, name: org.name, createdAt: org.created_at }, userId };
  });
}

export async function anyOrganizationExists(sql: Sql): Promise<boolean> {
  const [row] = await sql<
    { exists: boolean }[]
  >`select exists (select 1 from organizations) as exists`;
  return row.exists;
}

/** Finds an organization by id or (unique) name, for the CLI. */
export async function findOrganization(
  sql: Sql,
  idOrName: string,
): Promise<Organization | undefined> {
  const rows = await sql<{ id: string; name: string; created_at: Date }[]>`
    select id, name, created_at from organizations where id = ${idOrName} or name = ${idOrName} order by (id = ${idOrName}) desc limit 2`;
  if (rows.length === 2 && rows[0].id !== idOrName)
    throw conflict(`Several organizations are named "${idOrName}"; use its id`);
  return rows[0] && { id: rows[0].id, name: rows[0].name, createdAt: rows[0].created_at };
}

/** A session's fixed lifetime; it also ends after SESSION_IDLE_HOURS without use. */
const SESSION_DAYS = 30;
// A fixed hash so that an unknown email costs the same time as a wrong password.
const DUMMY_HASH =
  'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export async function checkLogin(sql: Sql, email: string, password: string) {
  const [user] = await sql<{ id: string; password_hash: string; org_id: string; role: Role }[]>`
    select u.id, u.password_hash, m.org_id, m.role
    from users u join memberships m on m.user_id = u.id
    where lower(u.email) = lower(${email})
    order by m.created_at asc limit 1`;
  const ok = await verifyPassword(password, user?.password_hash ?? DUMMY_HASH);
  return ok && user ? user : undefined;
}

/** A new session: the cookie token and CSRF token are returned once; only their hashes are kept. */
export async function createSession(sql: Sql, userId: string, orgId: string) {
  const token = randomBase62(43);
  const csrfToken = randomBase62(32);
  const expiresAt = new Date(Date.now() + SESSION_DAYS * 86_400_000);
  await sql`
    insert into sessions (id, token_hash, csrf_hash, user_id, org_id, expires_at)
    values (${newId('ses')}, ${sha256(token)}, ${sha256(csrfToken)}, ${userId}, ${orgId}, ${expiresAt})`;
  return { token, csrfToken, expiresAt };
}

export async function deleteSession(sql: Sql, sessionId: string) {
  await sql`delete from sessions where id = ${sessionId}`;
}

/** Deletes sessions past their lifetime or unused for `idleHours`; returns how many. */
export async function deleteEndedSessions(sql: Sql, idleHours: number): Promise<number> {
  const r = await sql`
    delete from sessions
    where expires_at <= now() or last_seen_at <= now() - make_interval(hours => ${idleHours})`;
  return r.count;
}

/** The `session_cleanup` job (src/jobs.ts). */
export async function sessionCleanupJob(
  _payload: unknown,
  { services, log }: JobContext,
): Promise<void> {
  const deleted = await deleteEndedSessions(services.sql, services.config.sessionIdleHours);
  if (deleted) log.info({ deleted }, 'session cleanup: ended sessions deleted');
  const invitations = await deleteExpiredInvitations(services.sql);
  if (invitations) log.info({ invitations }, 'session cleanup: expired invitations deleted');
}
