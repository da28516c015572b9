import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sql } from '../../db/client.ts';
import { safeEqual, sha256 } from '../../lib/crypto.ts';
import { ApiError, forbidden, notFound, unauthorized } from '../../http/errors.ts';
import { getApp, type AppRow } from '../apps/queries.ts';
import type { FailureLimiter } from './failure-limit.ts';

export type Permission = 'full' | 'read_only' | 'analytics';
export type Role = 'owner' | 'admin' | 'member' | 'viewer';

/** Who is calling: an API key or a dashboard session, always inside one organization. */
export type Principal =
  | {
      kind: 'api_key';
      orgId: string;
      keyId: string;
      keyName: string;
      permission: Permission;
      appIds: string[] | null;
    }
  | {
      kind: 'session';
      orgId: string;
      sessionId: string;
      userId: string;
      email: string;
      role: Role;
      permission: Permission;
      appIds: null;
      csrfHash: Buffer;
    };

/**
 * Who may call a route:
 * - `public`: anyone (setup, login);
 * - `session`: a dashboard session only, never an API key (API-key management); viewers read only;
 * - `own_session`: any dashboard session, whatever its role, acting on itself only (logout, password);
 * - `session_admin`: a dashboard session only; every role reads, owners and admins change (the team);
 * - `analytics`: every key and session, including `analytics` keys (the analytics endpoints);
 * - `default`: `full` keys and owner/admin/member sessions; `read_only` keys and viewers on GET only.
 */
export type Access =
  | 'public'
  | 'session'
  | 'own_session'
  | 'session_admin'
  | 'analytics'
  | 'default';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

export const SESSION_COOKIE = 'apprefer_session';
const KEY_PATTERN = /^ak_live_[A-Za-z0-9]{32,64}$/;
const TOUCH_INTERVAL_MS = 60_000;

export function roleToPermission(role: Role): Permission {
  return role === 'viewer' ? 'read_only' : 'full';
}

/**
 * onRequest hook: attaches `request.principal` when a valid credential is present. Failed
 * credentials count per client IP (`failures`); over the limit, credentials are not looked up.
 */
export function createPrincipalResolver(sql: Sql, failures: FailureLimiter, idleHours: number) {
  const refuseWhenBlocked = (request: FastifyRequest, reply: FastifyReply, digest: string) => {
    if (failures.isVouched(digest)) return;
    const wait = failures.blockedFor(request.ip);
    if (wait > 0) {
      reply.header('retry-after', wait);
      throw new ApiError(
        429,
        'rate_limited',
        `Too many failed credentials from this address; retry in ${wait} s`,
      );
    }
  };
  return async function resolvePrincipal(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      const hash = m && KEY_PATTERN.test(m[1]) ? sha256(m[1]) : null;
      refuseWhenBlocked(request, reply, hash?.toString('hex') ?? '');
      if (!m || !hash) {
        failures.fail(request.ip);
        throw unauthorized('Malformed API key: expected "Authorization: Bearer ak_live_…"');
      }
      const [key] = await sql<
        {
          id: string;
          org_id: string;
          name: string;
          permission: Permission;
          app_ids: string[] | null;
          last_used_at: Date | null;
        }[]
      >`
        select id, org_id, name, permission, app_ids, last_used_at
        from api_keys where key_hash = ${hash} and revoked_at is null`;
      if (!key) {
        failures.fail(request.ip);
        failures.forget(hash.toString('hex'));
        throw unauthorized('Unknown or revoked API key');
      }
      failures.vouch(hash.toString('hex'));
      if (!key.last_used_at || Date.now() - key.last_used_at.getTime() > TOUCH_INTERVAL_MS) {
        await sql`update api_keys set last_used_at = now() where id = ${key.id}`;
      }
      request.principal = {
        kind: 'api_key',
        orgId: key.org_id,
        keyId: key.id,
        keyName: key.name,
        permission: key.permission,
        appIds: key.app_ids,
      };
      return;
    }
    const token = request.cookies?.[SESSION_COOKIE];
    if (token) {
      const tokenHash = sha256(token);
      refuseWhenBlocked(request, reply, tokenHash.toString('hex'));
      const [s] = await sql<
        {
          id: string;
          org_id: string;
          user_id: string;
          email: string;
          role: Role;
          csrf_hash: Buffer;
          last_seen_at: Date;
        }[]
      >`
        select s.id, s.org_id, s.user_id, u.email, m.role, s.csrf_hash, s.last_seen_at
        from sessions s
        join users u on u.id = s.user_id
        join memberships m on m.org_id = s.org_id and m.user_id = s.user_id
        where s.token_hash = ${tokenHash} and s.expires_at > now()
          and s.last_seen_at > now() - make_interval(hours => ${idleHours})`;
      if (!s) {
        failures.fail(request.ip);
        failures.forget(tokenHash.toString('hex'));
      } else {
        failures.vouch(tokenHash.toString('hex'));
        if (Date.now() - s.last_seen_at.getTime() > TOUCH_INTERVAL_MS)
          await sql`update sessions set last_seen_at = now() where id = ${s.id}`;
        request.principal = {
          kind: 'session',
          orgId: s.org_id,
          sessionId: s.id,
          userId: s.user_id,
          email: s.email,
          role: s.role,
          permission: roleToPermission(s.role),
          appIds: null,
          csrfHash: s.csrf_hash,
        };
      }
    }
  };
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** preHandler hook: enforces the route's `access` against the principal and, for sessions, CSRF. */
export async function enforceAccess(request: FastifyRequest, _reply: FastifyReply) {
  const access: Access = request.routeOptions.config.access ?? 'default';
  if (access === 'public') return;
  const p = request.principal;
  if (!p) throw unauthorized();
  const isRead = READ_METHODS.has(request.method);

  if (p.kind === 'session' && !isRead) {
    const token = request.headers['x-csrf-token'];
    if (typeof token !== 'string' || !safeEqual(sha256(token), p.csrfHash)) {
      throw new ApiError(403, 'forbidden', 'Missing or wrong X-CSRF-Token header');
    }
  }
  if (access === 'session' || access === 'own_session' || access === 'session_admin') {
    if (p.kind !== 'session')
      throw forbidden('This endpoint accepts a dashboard session only, not an API key');
    if (access === 'session' && !isRead && p.role === 'viewer')
      throw forbidden('Viewers cannot change API keys');
    if (access === 'session_admin' && !isRead && p.role !== 'owner' && p.role !== 'admin')
      throw forbidden('Only owners and admins manage the team');
    return;
  }
  if (p.permission === 'analytics' && !(access === 'analytics' && isRead)) {
    throw forbidden('An analytics key may only read the analytics endpoints');
  }
  if (p.permission === 'read_only' && !isRead)
    throw forbidden('A read-only credential cannot make changes');
  // A key limited to some apps changes only what lies under one of its apps (a route with
  // `:appId`, checked by visibleApp / assertAppVisible); never the organization (creating apps).
  if (p.appIds && !isRead && !isAppScopedRoute(request))
    throw forbidden('A key limited to some apps cannot make organization-wide changes');
}

/** Whether the route acts on one app: its path has an `:appId` parameter. */
export const isAppScopedRoute = (request: FastifyRequest) =>
  (request.routeOptions.url ?? '').includes('/:appId');

/** The principal of a route whose access is not `public` (enforceAccess guarantees it exists). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}

/** A key limited to some apps sees the others as nonexistent: 404, never 403. */
export function assertAppVisible(p: Principal, appId: string) {
  if (p.appIds && !p.appIds.includes(appId)) throw notFound('App');
}

/** The app in the route's `:appId` as the caller may see it: 404 for another organization's app and for one the key is not limited to. */
export async function visibleApp(
  sql: Sql,
  request: FastifyRequest & { params: { appId: string } },
): Promise<AppRow> {
  const p = principalOf(request);
  assertAppVisible(p, request.params.appId);
  return getApp(sql, p.orgId, request.params.appId);
}
