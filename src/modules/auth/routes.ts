import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ApiInstance } from '../../http/types.ts';
import { ApiError, errorResponses } from '../../http/errors.ts';
import { single } from '../../http/envelope.ts';
import type { Services } from '../../services.ts';
import { safeEqual, sha256 } from '../../lib/crypto.ts';
import { setupToken } from './setup-token.ts';
import {
  anyOrganizationExists,
  checkLogin,
  createOrganizationWithOwner,
  createSession,
  deleteSession,
} from './accounts.ts';
import { principalOf, SESSION_COOKIE } from './principal.ts';
import { acceptInvitation, changePassword, lookupInvitation } from './team.ts';
import { RoleEnum } from './team-routes.ts';

const Password = z.string().min(10, 'must be at least 10 characters').max(200);
const Credentials = {
  email: z.email().max(254).describe('Login email'),
  password: Password,
};
const InvitationToken = z
  .string()
  .min(1)
  .max(200)
  .describe('The token of the invitation link: what follows `#` in `<PUBLIC_URL>/invite#<token>`');

const SessionResponse = z
  .object({
    data: z.object({
      user: z.object({ id: z.string(), email: z.string() }),
      organization: z.object({ id: z.string(), name: z.string() }),
      role: z.enum(['owner', 'admin', 'member', 'viewer']),
      csrfToken: z
        .string()
        .describe('Send as the X-CSRF-Token header on every mutation made with this session'),
    }),
  })
  .meta({ id: 'Session' });

export async function authRoutes(app: ApiInstance, { sql, config }: Services) {
  const secureCookie = config.publicUrl.startsWith('https://');

  async function startSession(
    reply: FastifyReply,
    user: { id: string; email: string },
    org: { id: string; name: string },
    role: 'owner' | 'admin' | 'member' | 'viewer',
  ) {
    const s = await createSession(sql, user.id, org.id);
    reply.setCookie(SESSION_COOKIE, s.token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: secureCookie,
      expires: s.expiresAt,
    });
    return { data: { user, organization: org, role, csrfToken: s.csrfToken } };
  }

  app.post(
    '/auth/setup',
    {
      config: { access: 'public' },
      schema: {
        tags: ['Auth'],
        summary: 'First-run setup: create the first organization and its owner, and log in',
        security: [],
        description:
          'Only while the instance has no organization at all; afterwards a 409. Needs the one-time `setupToken` the server prints on its console at start while no organization exists (a wrong one is a 403). Use `apprefer setup` for more organizations.',
        body: z.strictObject({
          organizationName: z.string().trim().min(1).max(200),
          ...Credentials,
          setupToken: z
            .string()
            .max(200)
            .describe('Printed on the server console at start while no organization exists'),
        }),
        response: { 200: SessionResponse, ...errorResponses(400, 401, 403, 409, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      if (await anyOrganizationExists(sql))
        throw new ApiError(409, 'conflict', 'Setup is already done; log in instead');
      if (!safeEqual(sha256(req.body.setupToken), sha256(setupToken(config))))
        throw new ApiError(
          403,
          'forbidden',
          "setupToken: wrong; use the one printed on the server's console at start",
          [{ path: 'setupToken', message: 'wrong' }],
        );
      const { organization, userId } = await createOrganizationWithOwner(sql, {
        org: req.body.organizationName,
        email: req.body.email,
        password: req.body.password,
        onlyIfFirst: true,
      });
      return startSession(reply, { id: userId, email: req.body.email }, organization, 'owner');
    },
  );

  /** Password and token guesses: as many per minute and IP address as logins. */
  const guessLimit = (what: string) => ({
    max: config.loginRateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (req: { ip: string }) => `${what}:${req.ip}`,
  });

  app.post(
    '/auth/login',
    {
      config: { access: 'public', rateLimit: guessLimit('login') },
      schema: {
        tags: ['Auth'],
        summary: 'Log in with email and password; sets the session cookie',
        security: [],
        description: `Rate limited to ${config.loginRateLimitPerMinute} attempts per minute per IP address.`,
        body: z.strictObject(Credentials),
        response: { 200: SessionResponse, ...errorResponses(400, 401, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const user = await checkLogin(sql, req.body.email, req.body.password);
      if (!user) throw new ApiError(401, 'unauthorized', 'Wrong email or password');
      const [org] = await sql<
        { id: string; name: string }[]
      >`select id, name from organizations where id = ${user.org_id}`;
      return startSession(reply, { id: user.id, email: req.body.email }, org, user.role);
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { access: 'own_session' },
      schema: {
        tags: ['Auth'],
        summary: 'End the current session (any role, viewers too)',
        security: [{ session: [] }],
        response: { 204: z.null().describe('Logged out'), ...errorResponses(401, 403, 429) },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      if (p.kind === 'session') await deleteSession(sql, p.sessionId);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/password',
    {
      config: { access: 'own_session', rateLimit: guessLimit('password') },
      schema: {
        tags: ['Auth'],
        summary:
          "Change the signed-in user's password (any role); the user's other sessions end, this one stays",
        description: `Needs the current password (a wrong one is a 403 naming \`currentPassword\`). Rate limited to ${config.loginRateLimitPerMinute} attempts per minute per IP address.`,
        security: [{ session: [] }],
        body: z.strictObject({
          currentPassword: z.string().min(1).max(200),
          newPassword: Password,
        }),
        response: {
          200: z.object({
            data: z.object({
              otherSessionsEnded: z
                .number()
                .int()
                .describe("How many of the user's other sessions were signed out"),
            }),
          }),
          ...errorResponses(400, 401, 403, 413, 415, 429),
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      if (p.kind !== 'session') throw new ApiError(403, 'forbidden', 'Session only');
      const ended = await changePassword(
        sql,
        { userId: p.userId, sessionId: p.sessionId },
        req.body.currentPassword,
        req.body.newPassword,
      );
      return { data: { otherSessionsEnded: ended } };
    },
  );

  app.post(
    '/auth/invitations/lookup',
    {
      config: { access: 'public', rateLimit: guessLimit('invitation') },
      schema: {
        tags: ['Auth'],
        summary: 'What an invitation link is for: organization, email, role, expiry',
        description:
          'For the invitation page, before the invitee chooses a password. 404 when the link was used, revoked, replaced or has expired.',
        security: [],
        body: z.strictObject({ token: InvitationToken }),
        response: {
          200: z
            .object({
              data: z.object({
                email: z.string(),
                role: RoleEnum,
                organization: z.object({ id: z.string(), name: z.string() }),
                expiresAt: z.iso.datetime(),
                existingAccount: z
                  .boolean()
                  .describe(
                    'The email already has an account (in another organization): accept with its password',
                  ),
              }),
            })
            .meta({ id: 'InvitationLookup' }),
          ...errorResponses(400, 401, 404, 413, 415, 429),
        },
      },
    },
    async (req) => single(await lookupInvitation(sql, req.body.token)),
  );

  app.post(
    '/auth/invitations/accept',
    {
      config: { access: 'public', rateLimit: guessLimit('invitation') },
      schema: {
        tags: ['Auth'],
        summary: 'Use an invitation link: set a password, join the organization and sign in',
        description:
          "A new email gets an account with this password. An email that already has an account (in another organization) gives that account's password instead (401 when wrong). The link works once.",
        security: [],
        body: z.strictObject({ token: InvitationToken, password: Password }),
        response: { 200: SessionResponse, ...errorResponses(400, 401, 404, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const r = await acceptInvitation(sql, req.body.token, req.body.password);
      return startSession(reply, r.user, r.organization, r.role);
    },
  );
}
