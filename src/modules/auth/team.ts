import type { TransactionSql } from 'postgres';
import type { Sql } from '../../db/client.ts';
import { ApiError, conflict, forbidden, notFound } from '../../http/errors.ts';
import {
  hashPassword,
  newId,
  randomBase62,
  safeEqual,
  sha256,
  verifyPassword,
} from '../../lib/crypto.ts';
import type { Role } from './principal.ts';

/**
 * The team of an organization (docs/dashboard.md "Team"): members with their roles, invitations
 * with one-time links, and a user's own password. The rules a user expects are checked here, in
 * the transaction that changes the rows:
 * - only owners and admins manage the team (the routes' `session_admin` access);
 * - only an owner makes someone an owner, or changes or removes an owner;
 * - nobody changes their own role;
 * - the organization always keeps an owner: the last one can be neither demoted nor removed.
 */

export const INVITATION_DAYS = 7;
type Tx = Sql | TransactionSql<Record<string, never>>;
const MANAGERS: Role[] = ['owner', 'admin'];

export type Caller = { orgId: string; userId: string; role: Role };

export type MemberRow = {
  user_id: string;
  /** Microseconds since the epoch of joining, exact (a Date keeps milliseconds): the cursor key. */
  joined_us?: string;
  email: string;
  role: Role;
  created_at: Date;
  last_seen_at: Date | null;
};

export type InvitationRow = {
  id: string;
  seq: string;
  email: string;
  role: Role;
  invited_by_email: string | null;
  created_at: Date;
  expires_at: Date;
};

export const toMemberResource = (r: MemberRow, callerId: string) => ({
  userId: r.user_id,
  email: r.email,
  role: r.role,
  you: r.user_id === callerId,
  joinedAt: r.created_at.toISOString(),
  lastSeenAt: r.last_seen_at?.toISOString() ?? null,
});

export const toInvitationResource = (r: InvitationRow) => ({
  id: r.id,
  email: r.email,
  role: r.role,
  invitedBy: r.invited_by_email,
  createdAt: r.created_at.toISOString(),
  expiresAt: r.expires_at.toISOString(),
});

/** Members in the order they joined, keyset-paged on (joined at in microseconds, user id). */
export async function listMembers(
  sql: Sql,
  orgId: string,
  opts: { limit: number; after: [string, string] | null },
): Promise<MemberRow[]> {
  const [afterAt, afterId] = opts.after ?? [null, null];
  return sql<MemberRow[]>`
    select m.user_id, u.email, m.role, m.created_at,
      (extract(epoch from m.created_at) * 1000000)::bigint::text as joined_us,
      (select max(s.last_seen_at) from sessions s
       where s.user_id = m.user_id and s.org_id = m.org_id) as last_seen_at
    from memberships m join users u on u.id = m.user_id
    where m.org_id = ${orgId}
      ${afterAt === null ? sql`` : sql`and ((extract(epoch from m.created_at) * 1000000)::bigint, m.user_id) > (${afterAt}::bigint, ${afterId})`}
    order by m.created_at, m.user_id
    limit ${opts.limit + 1}`;
}

/** One transaction per organization at a time changes its team: the owner count cannot race. */
const lockTeam = (tx: Tx, orgId: string) =>
  tx`select pg_advisory_xact_lock(hashtext(${`apprefer:team:${orgId}`}))`;

/** Locks the team and answers the caller as they are now (a change that just committed counts). */
async function lockAsCaller(tx: Tx, caller: Caller): Promise<Caller> {
  await lockTeam(tx, caller.orgId);
  const [m] = await tx<{ role: Role }[]>`
    select role from memberships where org_id = ${caller.orgId} and user_id = ${caller.userId}`;
  if (!m) throw forbidden('You are no longer a member of this organization');
  return { ...caller, role: m.role };
}

async function memberOf(tx: Tx, orgId: string, userId: string) {
  const [m] = await tx<MemberRow[]>`
    select m.user_id, u.email, m.role, m.created_at, null::timestamptz as last_seen_at
    from memberships m join users u on u.id = m.user_id
    where m.org_id = ${orgId} and m.user_id = ${userId}`;
  if (!m) throw notFound('Member');
  return m;
}

async function ownerCount(tx: Tx, orgId: string): Promise<number> {
  const [{ n }] = await tx<{ n: number }[]>`
    select count(*)::int as n from memberships where org_id = ${orgId} and role = 'owner'`;
  return n;
}

function assertMayManage(caller: Caller, target: Role | null, newRole: Role | null) {
  if (!MANAGERS.includes(caller.role)) throw forbidden('Only owners and admins manage the team');
  if (caller.role !== 'owner' && (target === 'owner' || newRole === 'owner'))
    throw forbidden('Only an owner can make someone an owner, or change or remove an owner');
}

export async function changeRole(
  sql: Sql,
  caller: Caller,
  userId: string,
  role: Role,
): Promise<MemberRow> {
  return sql.begin(async (tx) => {
    caller = await lockAsCaller(tx, caller);
    const m = await memberOf(tx, caller.orgId, userId);
    if (userId === caller.userId)
      throw forbidden('You cannot change your own role; ask another owner or admin');
    assertMayManage(caller, m.role, role);
    if (m.role === 'owner' && role !== 'owner' && (await ownerCount(tx, caller.orgId)) <= 1)
      throw conflict('The last owner cannot be demoted; make another member an owner first');
    await tx`update memberships set role = ${role} where org_id = ${caller.orgId} and user_id = ${userId}`;
    return { ...m, role };
  });
}

/**
 * Removes a member (a member may also remove themselves: leaving). Their sessions in this
 * organization end at once; a user left without any organization is deleted, so that a new
 * invitation of the same email starts from a fresh password.
 */
export async function removeMember(sql: Sql, caller: Caller, userId: string): Promise<MemberRow> {
  return sql.begin(async (tx) => {
    caller = await lockAsCaller(tx, caller);
    const m = await memberOf(tx, caller.orgId, userId);
    if (userId !== caller.userId) assertMayManage(caller, m.role, null);
    if (m.role === 'owner' && (await ownerCount(tx, caller.orgId)) <= 1)
      throw conflict('The last owner cannot be removed; make another member an owner first');
    await tx`delete from memberships where org_id = ${caller.orgId} and user_id = ${userId}`;
    await tx`delete from sessions where org_id = ${caller.orgId} and user_id = ${userId}`;
    await tx`delete from users u where u.id = ${userId}
      and not exists (select 1 from memberships where user_id = u.id)`;
    return m;
  });
}

const invitationColumns = (sql: Tx) => sql`
  i.id, i.seq, i.email, i.role, u.email as invited_by_email, i.created_at, i.expires_at`;

/** Open (unexpired) invitations, newest first. */
export async function listInvitations(
  sql: Sql,
  orgId: string,
  opts: { limit: number; afterSeq: string | null },
): Promise<InvitationRow[]> {
  return sql<InvitationRow[]>`
    select ${invitationColumns(sql)}
    from invitations i left join users u on u.id = i.invited_by
    where i.org_id = ${orgId} and i.expires_at > now()
      ${opts.afterSeq === null ? sql`` : sql`and i.seq < ${opts.afterSeq}`}
    order by i.seq desc
    limit ${opts.limit + 1}`;
}

/**
 * A new invitation; an open one for the same email is replaced (its link stops working). The
 * returned token (`<id>.<secret>`) is shown once; only the secret's sha256 is stored.
 */
export async function createInvitation(
  sql: Sql,
  caller: Caller,
  input: { email: string; role: Role },
): Promise<{ row: InvitationRow; token: string }> {
  return sql.begin(async (tx) => {
    caller = await lockAsCaller(tx, caller);
    assertMayManage(caller, null, input.role);
    const [member] = await tx`
      select 1 from memberships m join users u on u.id = m.user_id
      where m.org_id = ${caller.orgId} and lower(u.email) = lower(${input.email})`;
    if (member) throw conflict(`${input.email} is already a member of this organization`);
    await tx`delete from invitations where org_id = ${caller.orgId} and lower(email) = lower(${input.email})`;
    const id = newId('inv');
    const secret = randomBase62(43);
    const expiresAt = new Date(Date.now() + INVITATION_DAYS * 86_400_000);
    await tx`
      insert into invitations (id, org_id, email, role, secret_hash, invited_by, expires_at)
      values (${id}, ${caller.orgId}, ${input.email}, ${input.role}, ${sha256(secret)},
              ${caller.userId}, ${expiresAt})`;
    const [row] = await tx<InvitationRow[]>`
      select ${invitationColumns(tx)}
      from invitations i left join users u on u.id = i.invited_by where i.id = ${id}`;
    return { row, token: `${id}.${secret}` };
  });
}

export async function revokeInvitation(sql: Sql, caller: Caller, id: string) {
  return sql.begin(async (tx) => {
    caller = await lockAsCaller(tx, caller);
    const [row] = await tx<InvitationRow[]>`
      select ${invitationColumns(tx)}
      from invitations i left join users u on u.id = i.invited_by
      where i.id = ${id} and i.org_id = ${caller.orgId}`;
    if (!row) throw notFound('Invitation');
    assertMayManage(caller, null, row.role);
    await tx`delete from invitations where id = ${id}`;
    return row;
  });
}

const INVALID_LINK = () =>
  new ApiError(
    404,
    'not_found',
    'This invitation link is not valid: it was used, revoked, replaced or has expired. Ask for a new one',
  );

type OpenInvitation = {
  id: string;
  org_id: string;
  org_name: string;
  email: string;
  role: Role;
  expires_at: Date;
  user_id: string | null;
  password_hash: string | null;
};

/** The open invitation a token names: found by id, its secret compared in constant time. */
async function findByToken(tx: Tx, token: string): Promise<OpenInvitation> {
  const dot = token.indexOf('.');
  const id = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  if (dot < 1 || !secret) throw INVALID_LINK();
  const [row] = await tx<(OpenInvitation & { secret_hash: Buffer })[]>`
    select i.id, i.org_id, o.name as org_name, i.email, i.role, i.expires_at, i.secret_hash,
      u.id as user_id, u.password_hash
    from invitations i
    join organizations o on o.id = i.org_id
    left join users u on lower(u.email) = lower(i.email)
    where i.id = ${id} and i.expires_at > now()`;
  // The secret is checked even without a row, so that a wrong id costs the same time.
  const matches = safeEqual(sha256(secret), row?.secret_hash ?? Buffer.alloc(32));
  if (!row || !matches) throw INVALID_LINK();
  return row;
}

/** What the invitation page shows before the invitee chooses a password. */
export async function lookupInvitation(sql: Sql, token: string) {
  const i = await findByToken(sql, token);
  return {
    email: i.email,
    role: i.role,
    organization: { id: i.org_id, name: i.org_name },
    expiresAt: i.expires_at.toISOString(),
    existingAccount: i.user_id !== null,
  };
}

/**
 * Uses an invitation: a new user sets their password; an email that already has an account (in
 * another organization) confirms its password instead. The invitation is deleted in the same
 * transaction, so a link works once.
 */
export async function acceptInvitation(sql: Sql, token: string, password: string) {
  const newHash = await hashPassword(password);
  return sql.begin(async (tx) => {
    // Every change of invitations holds the team lock: read, lock, read again.
    await lockTeam(tx, (await findByToken(tx, token)).org_id);
    const i = await findByToken(tx, token);
    let userId = i.user_id;
    if (userId) {
      if (!(await verifyPassword(password, i.password_hash!)))
        throw new ApiError(
          401,
          'unauthorized',
          `password: ${i.email} already has an account; enter its password`,
          [{ path: 'password', message: 'not the password of the existing account' }],
        );
    } else {
      userId = newId('usr');
      await tx`insert into users (id, email, password_hash) values (${userId}, ${i.email}, ${newHash})`;
    }
    const [existing] = await tx<{ role: Role }[]>`
      select role from memberships where org_id = ${i.org_id} and user_id = ${userId}`;
    if (!existing)
      await tx`insert into memberships (org_id, user_id, role) values (${i.org_id}, ${userId}, ${i.role})`;
    await tx`delete from invitations where id = ${i.id}`;
    return {
      user: { id: userId, email: i.email },
      organization: { id: i.org_id, name: i.org_name },
      role: existing?.role ?? i.role,
    };
  });
}

/**
 * Changes a user's password after checking the current one; every other session of the user (in
 * every organization) ends, the one making the change stays. Returns how many ended.
 */
export async function changePassword(
  sql: Sql,
  user: { userId: string; sessionId: string },
  currentPassword: string,
  newPassword: string,
): Promise<number> {
  const [u] = await sql<{ password_hash: string }[]>`
    select password_hash from users where id = ${user.userId}`;
  if (!u || !(await verifyPassword(currentPassword, u.password_hash)))
    throw new ApiError(
      403,
      'forbidden',
      'currentPassword: wrong; enter the password you signed in with',
      [{ path: 'currentPassword', message: 'wrong' }],
    );
  if (currentPassword === newPassword)
    throw new ApiError(
      400,
      'validation_error',
      'newPassword: must differ from the current password',
      [{ path: 'newPassword', message: 'must differ from the current password' }],
    );
  const hash = await hashPassword(newPassword);
  return sql.begin(async (tx) => {
    await tx`update users set password_hash = ${hash} where id = ${user.userId}`;
    const ended = await tx`
      delete from sessions where user_id = ${user.userId} and id <> ${user.sessionId}`;
    return ended.count;
  });
}

/** Deletes invitations past their expiry (the session_cleanup job); returns how many. */
export async function deleteExpiredInvitations(sql: Sql): Promise<number> {
  return (await sql`delete from invitations where expires_at <= now()`).count;
}
