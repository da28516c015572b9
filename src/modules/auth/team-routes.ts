import { z } from 'zod';
import type { ApiInstance } from '../../http/types.ts';
import { errorResponses } from '../../http/errors.ts';
import { list, ListOf, PageQuery, single, SingleOf } from '../../http/envelope.ts';
import { page, seqPage } from '../../http/cursor.ts';
import type { Services } from '../../services.ts';
import { principalOf, type Principal } from './principal.ts';
import {
  type Caller,
  changeRole,
  createInvitation,
  INVITATION_DAYS,
  listInvitations,
  listMembers,
  removeMember,
  revokeInvitation,
  toInvitationResource,
  toMemberResource,
} from './team.ts';

export const RoleEnum = z
  .enum(['owner', 'admin', 'member', 'viewer'])
  .describe(
    '`owner`: everything, and the only role that makes or changes owners; `admin`: everything, and manages the team; `member`: everything but the team; `viewer`: reads only',
  );

const Member = z
  .object({
    userId: z.string().meta({ example: 'usr_8Hk2mQ9xLp3sTz7v' }),
    email: z.string(),
    role: RoleEnum,
    you: z.boolean().describe('The caller'),
    joinedAt: z.iso.datetime(),
    lastSeenAt: z.iso
      .datetime()
      .nullable()
      .describe('Last use of a dashboard session in this organization'),
  })
  .meta({ id: 'Member' });

const Invitation = z
  .object({
    id: z.string().meta({ example: 'inv_4Fq9ZkX2mP7sLw1t' }),
    email: z.string(),
    role: RoleEnum,
    invitedBy: z.string().nullable().describe('Email of who invited'),
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
  })
  .meta({ id: 'Invitation' });

const InvitationCreated = Invitation.extend({
  token: z
    .string()
    .describe('The one-time token. Shown only in this response; only a hash is stored'),
  url: z
    .string()
    .describe(
      'The link to hand to the invitee: `<PUBLIC_URL>/invite#<token>` (the token in the fragment never reaches a server log)',
    ),
}).meta({ id: 'InvitationCreated' });

const sessionOnly = { security: [{ session: [] }] };
const tags = ['Team'];
const UserIdParams = z.strictObject({ userId: z.string().max(64) });
const caller = (p: Principal): Caller => {
  if (p.kind !== 'session') throw new Error('team routes are session only');
  return { orgId: p.orgId, userId: p.userId, role: p.role };
};

/**
 * The organization's team (dashboard Settings → Team): session only, never an API key; every
 * role reads, owners and admins change (access `session_admin`). The rules are in team.ts.
 */
export async function teamRoutes(app: ApiInstance, { sql, cursors, config }: Services) {
  app.get(
    '/team/members',
    {
      config: { access: 'session_admin' },
      schema: {
        tags,
        summary: "The organization's members and their roles, in the order they joined",
        ...sessionOnly,
        querystring: z.strictObject(PageQuery),
        response: { 200: ListOf(Member), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const c = caller(principalOf(req));
      const scope = `members:${c.orgId}`;
      const after = cursors.decode(scope, req.query.cursor);
      const rows = await listMembers(sql, c.orgId, {
        limit: req.query.limit,
        after: after ? [String(after[0]), String(after[1])] : null,
      });
      const { items, cursor } = page(
        rows,
        req.query.limit,
        (r) => [r.joined_us!, r.user_id],
        (k) => cursors.encode(scope, k),
      );
      return list(
        items.map((r) => toMemberResource(r, c.userId)),
        cursor,
      );
    },
  );

  app.patch(
    '/team/members/:userId',
    {
      config: { access: 'session_admin' },
      schema: {
        tags,
        summary:
          "Change a member's role (owners and admins). Only an owner makes or changes an owner; nobody changes their own role; the last owner stays an owner (409)",
        ...sessionOnly,
        params: UserIdParams,
        body: z.strictObject({ role: RoleEnum }),
        response: {
          200: SingleOf(Member),
          ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429),
        },
      },
    },
    async (req) => {
      const c = caller(principalOf(req));
      const m = await changeRole(sql, c, req.params.userId, req.body.role);
      return single(toMemberResource(m, c.userId));
    },
  );

  app.delete(
    '/team/members/:userId',
    {
      config: { access: 'session_admin' },
      schema: {
        tags,
        summary:
          'Remove a member (owners and admins; only an owner removes an owner); their sessions here end at once. The last owner cannot be removed (409)',
        ...sessionOnly,
        params: UserIdParams,
        response: { 200: SingleOf(Member), ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (req) => {
      const c = caller(principalOf(req));
      return single(toMemberResource(await removeMember(sql, c, req.params.userId), c.userId));
    },
  );

  app.get(
    '/team/invitations',
    {
      config: { access: 'session_admin' },
      schema: {
        tags,
        summary: 'Open invitations (not used, not expired), newest first',
        ...sessionOnly,
        querystring: z.strictObject(PageQuery),
        response: { 200: ListOf(Invitation), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const c = caller(principalOf(req));
      return seqPage(
        cursors,
        `invitations:${c.orgId}`,
        req.query,
        (afterSeq) =>
          listInvitations(sql, c.orgId, {
            limit: req.query.limit,
            afterSeq,
          }),
        toInvitationResource,
      );
    },
  );

  app.post(
    '/team/invitations',
    {
      config: { access: 'session_admin' },
      schema: {
        tags,
        summary: `Invite someone by email with a role: answers a one-time link, valid ${INVITATION_DAYS} days, shown once (owners and admins; only an owner invites an owner)`,
        description:
          'No email is sent: hand the link over yourself. A new invitation of the same email replaces the open one. The invitee opens the link, sets a password (or, if the email already has an account, enters its password) and is signed in: `POST /auth/invitations/accept`.',
        ...sessionOnly,
        body: z.strictObject({ email: z.email().max(254), role: RoleEnum }),
        response: {
          201: SingleOf(InvitationCreated),
          ...errorResponses(400, 401, 403, 409, 413, 415, 429),
        },
      },
    },
    async (req, reply) => {
      const c = caller(principalOf(req));
      const { row, token } = await createInvitation(sql, c, req.body);
      return reply.code(201).send(
        single({
          ...toInvitationResource(row),
          token,
          url: `${config.publicUrl}/invite#${token}`,
        }),
      );
    },
  );

  app.delete(
    '/team/invitations/:invitationId',
    {
      config: { access: 'session_admin' },
      schema: {
        tags,
        summary: 'Revoke an invitation: its link stops working',
        ...sessionOnly,
        params: z.strictObject({ invitationId: z.string().max(64) }),
        response: { 200: SingleOf(Invitation), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const c = caller(principalOf(req));
      return single(toInvitationResource(await revokeInvitation(sql, c, req.params.invitationId)));
    },
  );
}
