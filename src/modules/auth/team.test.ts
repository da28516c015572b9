import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createOrg,
  type Org,
  startTestServer,
  type TestServer,
} from '../../../test/helpers.ts';
import { hashPassword, newId, sha256 } from '../../lib/crypto.ts';
import { createSession } from './accounts.ts';
import type { Role } from './principal.ts';
import { deleteExpiredInvitations } from './team.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ LOGIN_RATE_LIMIT_PER_MINUTE: '1000' }, undefined, { jobs: false });
});
afterAll(() => t?.close());

const PASSWORD = 'correct horse battery';
type Session = Org['session'];

/** A user of `org` with `role` and a signed-in session. */
async function member(org: Org, role: Role, email = `${newId('m').toLowerCase()}@example.com`) {
  const userId = newId('usr');
  await t.sql`insert into users (id, email, password_hash) values (${userId}, ${email}, ${await hashPassword(PASSWORD)})`;
  await t.sql`insert into memberships (org_id, user_id, role) values (${org.orgId}, ${userId}, ${role})`;
  const s = await createSession(t.sql, userId, org.orgId);
  return {
    userId,
    email,
    session: { cookie: `apprefer_session=${s.token}`, csrfToken: s.csrfToken } as Session,
  };
}

const invite = (auth: Session, email: string, role: Role = 'member') =>
  api(t, 'POST', '/api/v1/team/invitations', { auth, body: { email, role } });
const cookieOf = (r: { headers: Headers }) => r.headers.get('set-cookie')!.split(';')[0];

describe('team: members and roles', () => {
  it('lists the members with their roles; the caller is marked; keys are refused', async () => {
    const org = await createOrg(t);
    const viewer = await member(org, 'viewer');
    const r = await api(t, 'GET', '/api/v1/team/members', { auth: viewer.session });
    expect(r.status).toBe(200);
    expect(r.body.data.map((m: { role: string; you: boolean }) => [m.role, m.you])).toEqual([
      ['owner', false],
      ['viewer', true],
    ]);
    expect(r.body.meta).toEqual({ hasMore: false, cursor: null });
    const paged = await api(t, 'GET', '/api/v1/team/members?limit=1', { auth: org.session });
    expect(paged.body.meta.hasMore).toBe(true);
    const next = await api(
      t,
      'GET',
      `/api/v1/team/members?limit=1&cursor=${paged.body.meta.cursor}`,
      { auth: org.session },
    );
    expect(next.body.data[0].userId).toBe(viewer.userId);
    const key = await api(t, 'GET', '/api/v1/team/members', { auth: await org.key('full') });
    expect(key.status).toBe(403);
    expect(key.body.error.message).toContain('dashboard session only');
  });

  it('owners and admins change roles; members and viewers cannot; nobody changes their own', async () => {
    const org = await createOrg(t);
    const admin = await member(org, 'admin');
    const m = await member(org, 'member');
    const v = await member(org, 'viewer');
    const patch = (auth: Session, userId: string, role: Role) =>
      api(t, 'PATCH', `/api/v1/team/members/${userId}`, { auth, body: { role } });

    const ok = await patch(admin.session, v.userId, 'member');
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ userId: v.userId, role: 'member', you: false });
    // The new role applies to the member's existing session at once.
    const me = await api(t, 'GET', '/api/v1/me', { auth: v.session });
    expect(me.body.data.user.role).toBe('member');

    for (const who of [m, v]) {
      const r = await patch(who.session, admin.userId, 'viewer');
      expect(r.status).toBe(403);
      expect(r.body.error.message).toContain('Only owners and admins');
    }
    const self = await patch(admin.session, admin.userId, 'owner');
    expect(self.status).toBe(403);
    expect(self.body.error.message).toContain('your own role');
    // Only an owner makes an owner or touches one.
    expect((await patch(admin.session, m.userId, 'owner')).status).toBe(403);
    expect((await patch(admin.session, org.userId, 'member')).status).toBe(403);
    const promoted = await patch(org.session, admin.userId, 'owner');
    expect(promoted.body.data.role).toBe('owner');

    const bad = await patch(org.session, m.userId, 'boss' as Role);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('role');
  });

  it('the last owner can be neither demoted nor removed; with two owners one may go', async () => {
    const org = await createOrg(t);
    const second = await member(org, 'owner');
    const demote = await api(t, 'PATCH', `/api/v1/team/members/${second.userId}`, {
      auth: org.session,
      body: { role: 'admin' },
    });
    expect(demote.status).toBe(200);
    // Now the creator is the last owner: the other owner-turned-admin cannot remove or demote them…
    const remove = await api(t, 'DELETE', `/api/v1/team/members/${org.userId}`, {
      auth: second.session,
    });
    expect(remove.status).toBe(403);
    // …and they cannot leave themselves.
    const leave = await api(t, 'DELETE', `/api/v1/team/members/${org.userId}`, {
      auth: org.session,
    });
    expect(leave.status).toBe(409);
    expect(leave.body.error.message).toContain('last owner');
    const [{ n }] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from memberships where org_id = ${org.orgId} and role = 'owner'`;
    expect(n).toBe(1);
  });

  it('concurrent demotions of the only two owners leave one owner', async () => {
    const org = await createOrg(t);
    const a = await member(org, 'owner');
    const b = await member(org, 'owner');
    await api(t, 'PATCH', `/api/v1/team/members/${org.userId}`, {
      auth: a.session,
      body: { role: 'member' },
    });
    const results = await Promise.all([
      api(t, 'PATCH', `/api/v1/team/members/${b.userId}`, {
        auth: a.session,
        body: { role: 'admin' },
      }),
      api(t, 'PATCH', `/api/v1/team/members/${a.userId}`, {
        auth: b.session,
        body: { role: 'admin' },
      }),
    ]);
    // The second to get the lock is an admin by then, and an admin cannot change an owner.
    expect(results.map((r) => r.status).sort()).toEqual([200, 403]);
    const [{ n }] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from memberships where org_id = ${org.orgId} and role = 'owner'`;
    expect(n).toBe(1);
  });

  it("removing a member ends their sessions; another organization's member is a 404", async () => {
    const org = await createOrg(t);
    const other = await createOrg(t);
    const m = await member(org, 'member');
    expect(
      (await api(t, 'DELETE', `/api/v1/team/members/${other.userId}`, { auth: org.session }))
        .status,
    ).toBe(404);
    expect(
      (
        await api(t, 'PATCH', `/api/v1/team/members/${other.userId}`, {
          auth: org.session,
          body: { role: 'viewer' },
        })
      ).status,
    ).toBe(404);
    const r = await api(t, 'DELETE', `/api/v1/team/members/${m.userId}`, { auth: org.session });
    expect(r.status).toBe(200);
    expect((await api(t, 'GET', '/api/v1/me', { auth: m.session })).status).toBe(401);
    // A user left without any organization is deleted: a new invitation starts afresh.
    const [{ n }] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from users where id = ${m.userId}`;
    expect(n).toBe(0);
  });
});

describe('team: invitations', () => {
  it('an invitation yields a one-time link; the invitee sets a password and is signed in', async () => {
    const org = await createOrg(t);
    const r = await invite(org.session, 'New.Person@Example.com', 'admin');
    expect(r.status).toBe(201);
    const { token, url, id } = r.body.data;
    expect(url).toBe(`http://api.test.local/invite#${token}`);
    expect(token).toMatch(/^inv_[A-Za-z0-9]{16}\.[A-Za-z0-9]{43}$/);
    expect(new Date(r.body.data.expiresAt).getTime() - Date.now()).toBeGreaterThan(
      6.9 * 86_400_000,
    );
    // Only the secret's hash is stored.
    const [row] = await t.sql<{ secret_hash: Buffer }[]>`
      select secret_hash from invitations where id = ${id}`;
    expect(row.secret_hash.equals(sha256(token.split('.')[1]))).toBe(true);
    expect(JSON.stringify(await t.sql`select * from invitations`)).not.toContain(
      token.split('.')[1],
    );

    const listed = await api(t, 'GET', '/api/v1/team/invitations', { auth: org.session });
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0]).not.toHaveProperty('token');

    const look = await api(t, 'POST', '/api/v1/auth/invitations/lookup', { body: { token } });
    expect(look.status).toBe(200);
    expect(look.body.data).toMatchObject({
      email: 'New.Person@Example.com',
      role: 'admin',
      existingAccount: false,
    });

    const short = await api(t, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token, password: 'short' },
    });
    expect(short.status).toBe(400);
    expect(short.body.error.details[0].path).toBe('password');

    const accepted = await api(t, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token, password: 'the new person password' },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body.data.role).toBe('admin');
    const me = await api(t, 'GET', '/api/v1/me', { headers: { cookie: cookieOf(accepted) } });
    expect(me.body.data.user).toMatchObject({ email: 'New.Person@Example.com', role: 'admin' });
    // The link works once.
    const again = await api(t, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token, password: 'the new person password' },
    });
    expect(again.status).toBe(404);
    expect(again.body.error.message).toContain('not valid');
    // And the new member signs in with the password they chose.
    const login = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: 'new.person@example.com', password: 'the new person password' },
    });
    expect(login.status).toBe(200);
    expect(login.body.data.organization.id).toBe(org.orgId);
  });

  it('wrong, revoked, replaced and expired links are refused', async () => {
    const org = await createOrg(t);
    const first = (await invite(org.session, 'a@example.com')).body.data;
    const wrongSecret = `${first.id}.${'x'.repeat(43)}`;
    for (const token of [wrongSecret, 'nonsense', '.', 'inv_0000000000000000.abc']) {
      const r = await api(t, 'POST', '/api/v1/auth/invitations/lookup', { body: { token } });
      expect(r.status, token).toBe(404);
    }
    // A new invitation of the same email replaces the first.
    const second = (await invite(org.session, 'A@example.com', 'viewer')).body.data;
    expect(
      (await api(t, 'POST', '/api/v1/auth/invitations/lookup', { body: { token: first.token } }))
        .status,
    ).toBe(404);
    // Revoked.
    const revoke = await api(t, 'DELETE', `/api/v1/team/invitations/${second.id}`, {
      auth: org.session,
    });
    expect(revoke.status).toBe(200);
    expect(
      (await api(t, 'POST', '/api/v1/auth/invitations/lookup', { body: { token: second.token } }))
        .status,
    ).toBe(404);
    // Expired.
    const third = (await invite(org.session, 'b@example.com')).body.data;
    await t.sql`update invitations set expires_at = now() - interval '1 second' where id = ${third.id}`;
    const expired = await api(t, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token: third.token, password: 'long enough password' },
    });
    expect(expired.status).toBe(404);
    // The hourly session_cleanup job deletes it.
    expect(await deleteExpiredInvitations(t.sql)).toBeGreaterThanOrEqual(1);
    expect(await t.sql`select 1 from invitations where id = ${third.id}`).toHaveLength(0);
    expect(
      (await api(t, 'GET', '/api/v1/team/invitations', { auth: org.session })).body.data,
    ).toEqual([]);
  });

  it('who may invite whom', async () => {
    const org = await createOrg(t);
    const admin = await member(org, 'admin');
    const m = await member(org, 'member');
    const v = await member(org, 'viewer');
    expect((await invite(m.session, 'x@example.com')).status).toBe(403);
    expect((await invite(v.session, 'x@example.com')).status).toBe(403);
    expect((await invite(admin.session, 'x@example.com', 'owner')).status).toBe(403);
    expect((await invite(admin.session, 'x@example.com', 'admin')).status).toBe(201);
    const dup = await invite(org.session, m.email.toUpperCase());
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toContain('already a member');
    const key = await api(t, 'POST', '/api/v1/team/invitations', {
      auth: await org.key('full'),
      body: { email: 'k@example.com', role: 'member' },
    });
    expect(key.status).toBe(403);
    // Another organization's invitation is not found.
    const other = await createOrg(t);
    const theirs = (await invite(other.session, 'y@example.com')).body.data;
    expect(
      (await api(t, 'DELETE', `/api/v1/team/invitations/${theirs.id}`, { auth: org.session }))
        .status,
    ).toBe(404);
  });

  it('an email that already has an account joins with its existing password', async () => {
    const home = await createOrg(t);
    const person = await member(home, 'member');
    const org = await createOrg(t);
    const { token } = (await invite(org.session, person.email, 'viewer')).body.data;
    const look = await api(t, 'POST', '/api/v1/auth/invitations/lookup', { body: { token } });
    expect(look.body.data.existingAccount).toBe(true);
    const wrong = await api(t, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token, password: 'not the right password' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.details[0].path).toBe('password');
    const ok = await api(t, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token, password: PASSWORD },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.data.organization.id).toBe(org.orgId);
    expect(ok.body.data.role).toBe('viewer');
    const [{ n }] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from memberships where user_id = ${person.userId}`;
    expect(n).toBe(2);
  });
});

describe('password change', () => {
  it('needs the current password, a new one of 10+ characters that differs', async () => {
    const org = await createOrg(t);
    const change = (body: object) =>
      api(t, 'POST', '/api/v1/auth/password', { auth: org.session, body });
    const wrong = await change({ currentPassword: 'nope', newPassword: 'a brand new password' });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.details).toEqual([{ path: 'currentPassword', message: 'wrong' }]);
    const same = await change({ currentPassword: PASSWORD, newPassword: PASSWORD });
    expect(same.status).toBe(400);
    expect(same.body.error.details[0].path).toBe('newPassword');
    const short = await change({ currentPassword: PASSWORD, newPassword: 'short' });
    expect(short.status).toBe(400);
    expect(short.body.error.details[0].path).toBe('newPassword');
    const key = await api(t, 'POST', '/api/v1/auth/password', {
      auth: await org.key('full'),
      body: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
    });
    expect(key.status).toBe(403);
  });

  it("signs the user's other sessions out, keeps this one; the new password signs in", async () => {
    const org = await createOrg(t);
    const v = await member(org, 'viewer'); // any role may change its own password
    const other = await createSession(t.sql, v.userId, org.orgId);
    const otherSession = { cookie: `apprefer_session=${other.token}`, csrfToken: other.csrfToken };
    const r = await api(t, 'POST', '/api/v1/auth/password', {
      auth: v.session,
      body: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.otherSessionsEnded).toBe(1);
    expect((await api(t, 'GET', '/api/v1/me', { auth: v.session })).status).toBe(200);
    expect((await api(t, 'GET', '/api/v1/me', { auth: otherSession })).status).toBe(401);
    const old = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: v.email, password: PASSWORD },
    });
    expect(old.status).toBe(401);
    const fresh = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: v.email, password: 'a brand new password' },
    });
    expect(fresh.status).toBe(200);
  });
});
