/**
 * Every registered /api/v1 route × every kind of credential × own / other organization / an app
 * the key is not limited to. The expected status is derived from the route's declared access
 * (`config.access`, auth/principal.ts) and method, never listed per route: a route only needs a
 * recipe saying how to call it successfully, and a route without one fails this test, so no route
 * ships unchecked. Routes outside /api/v1 must be listed as public on purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type Org,
  type TestServer,
} from '../../../test/helpers.ts';
import { createSession } from './accounts.ts';
import { hashPassword, newId } from '../../lib/crypto.ts';
import { setupToken } from './setup-token.ts';
import { createInvitation } from './team.ts';

type Target = 'own' | 'other' | 'unlisted';
type Ids = { appId: string; linkId: string; keyId: string; userId: string; invitationId: string };
type Recipe = {
  /** Query string and body of a call that succeeds for an allowed caller. */
  query?: string;
  body?: (ids: Ids) => unknown;
  /** Ids for the path, made fresh for each call (deleting twice is not the same request). */
  fresh?: 'link' | 'key' | 'member' | 'invitation';
  /** Public routes: the status every caller gets (the same with or without a credential). */
  publicStatus?: number;
  /** What an allowed caller gets when that is not a 2xx (an id no test data has, e.g. a delivery). */
  allowedStatus?: number;
};

const OWNER_PASSWORD = 'correct horse battery';

let t: TestServer;
let a: Org;
let b: Org;
let ownerEmail: string;
const apps: Record<'a1' | 'a2' | 'b', string> = { a1: '', a2: '', b: '' };
const fullKeys: Record<'a' | 'b', string> = { a: '', b: '' };

const RECIPES: Record<string, Recipe> = {
  'POST /api/v1/auth/setup': {
    body: () => ({
      organizationName: 'Late',
      email: 'late@example.com',
      password: OWNER_PASSWORD,
      setupToken: setupToken(t.config),
    }),
    publicStatus: 409,
  },
  'POST /api/v1/auth/login': {
    body: () => ({ email: ownerEmail, password: OWNER_PASSWORD }),
    publicStatus: 200,
  },
  'POST /api/v1/auth/logout': {},
  // The right current password and the same new one: a 400 proves the check passed, and nothing
  // changes (a real change would end the other sessions of the user this test shares).
  'POST /api/v1/auth/password': {
    body: () => ({ currentPassword: OWNER_PASSWORD, newPassword: OWNER_PASSWORD }),
    allowedStatus: 400,
  },
  'POST /api/v1/auth/invitations/lookup': { body: () => ({ token: 'inv_x.y' }), publicStatus: 404 },
  'POST /api/v1/auth/invitations/accept': {
    body: () => ({ token: 'inv_x.y', password: OWNER_PASSWORD }),
    publicStatus: 404,
  },
  'GET /api/v1/team/members': {},
  'PATCH /api/v1/team/members/:userId': { fresh: 'member', body: () => ({ role: 'viewer' }) },
  'DELETE /api/v1/team/members/:userId': { fresh: 'member' },
  'GET /api/v1/team/invitations': {},
  'POST /api/v1/team/invitations': {
    body: () => ({ email: `${newId('x').toLowerCase()}@matrix.test`, role: 'member' }),
  },
  'DELETE /api/v1/team/invitations/:invitationId': { fresh: 'invitation' },
  'GET /api/v1/api-keys': {},
  'POST /api/v1/api-keys': { body: () => ({ name: 'matrix', permission: 'read_only' }) },
  'DELETE /api/v1/api-keys/:keyId': { fresh: 'key' },
  'GET /api/v1/me': {},
  'GET /api/v1/apps': {},
  'POST /api/v1/apps': { body: () => appBody({ name: 'Matrix' }) },
  'GET /api/v1/apps/:appId': {},
  'PATCH /api/v1/apps/:appId': { body: () => ({ name: 'Renamed' }) },
  'GET /api/v1/apps/:appId/links': {},
  'POST /api/v1/apps/:appId/links': { body: () => ({ network: 'meta' }) },
  'GET /api/v1/apps/:appId/links/:linkId': { fresh: 'link' },
  'PATCH /api/v1/apps/:appId/links/:linkId': { fresh: 'link', body: () => ({ name: 'n' }) },
  'DELETE /api/v1/apps/:appId/links/:linkId': { fresh: 'link' },
  'GET /api/v1/apps/:appId/overview': {},
  'GET /api/v1/apps/:appId/stats': { query: 'groupBy=network' },
  'GET /api/v1/apps/:appId/events': {},
  'GET /api/v1/apps/:appId/attributions': {},
  'GET /api/v1/portfolio': {},
  'GET /api/v1/apps/:appId/integrations': {},
  ...Object.fromEntries(
    ['meta', 'google', 'tiktok'].flatMap((n) => [
      [`GET /api/v1/apps/:appId/integrations/${n}`, {}],
      [`PATCH /api/v1/apps/:appId/integrations/${n}`, { body: () => ({ enabled: false }) }],
      // Unconfigured: the answer says what is missing (no outside call is made).
      [`POST /api/v1/apps/:appId/integrations/${n}/test`, { body: () => ({}) }],
    ]),
  ),
  'GET /api/v1/apps/:appId/integrations/deliveries': {},
  'POST /api/v1/apps/:appId/integrations/deliveries/:deliveryId/retry': { allowedStatus: 404 },
  'GET /api/v1/apps/:appId/skan': {},
  'PUT /api/v1/apps/:appId/skan': { body: () => ({ fine: [] }) },
  'GET /api/v1/apps/:appId/skan/postbacks': {},
  'GET /api/v1/apps/:appId/skan/stats': {},
  'GET /api/v1/apps/:appId/integrations/revenuecat': {},
  'PATCH /api/v1/apps/:appId/integrations/revenuecat': { body: () => ({ enabled: false }) },
  'GET /api/v1/apps/:appId/integrations/superwall': {},
  'PATCH /api/v1/apps/:appId/integrations/superwall': { body: () => ({ enabled: false }) },
  'GET /api/v1/apps/:appId/qualified-trials': {},
};

/** Routes outside /api/v1: no management credential applies; each is public on purpose. */
const PUBLIC_ROOT = [
  /^\/$/,
  /^\/healthz$/,
  /^\/readyz$/,
  /^\/openapi\.(yaml|json)$/,
  /^\/api\/v1\/docs/, // Swagger UI and its static files
  /^\/api\/track\//, // SDK ingestion: its own SDK-key authentication (tracking/sdk-auth.ts)
  /^\/(login|setup|invite|apps|apps\/\*|portfolio|settings|settings\/\*)$/, // the dashboard's pages
  /^\/assets\/\*$/, // the dashboard's static files
  /^\/\.well-known\/(skadnetwork|appattribution)\/report-attribution\/$/, // Apple's postbacks
  /^\/api\/skan\/postback$/,
  /^\/api\/webhook\/(revenuecat|superwall)\/:appId$/, // checked by the webhook's own secret
  /^\/api\/cron\/qualified-trials$/, // checked against CRON_SECRET
];

type Cred =
  | { name: string; kind: 'none' }
  | { name: string; kind: 'bad' }
  | { name: string; kind: 'key'; permission: 'full' | 'read_only' | 'analytics'; limited: boolean }
  | { name: string; kind: 'session'; role: 'owner' | 'admin' | 'member' | 'viewer'; csrf: boolean };

const CREDS: Cred[] = [
  { name: 'no credential', kind: 'none' },
  { name: 'unknown key', kind: 'bad' },
  ...(['full', 'read_only', 'analytics'] as const).flatMap((permission) => [
    { name: `${permission} key`, kind: 'key' as const, permission, limited: false },
    {
      name: `${permission} key limited to one app`,
      kind: 'key' as const,
      permission,
      limited: true,
    },
  ]),
  ...(['owner', 'admin', 'member', 'viewer'] as const).flatMap((role) => [
    { name: `${role} session`, kind: 'session' as const, role, csrf: true },
    { name: `${role} session without CSRF`, kind: 'session' as const, role, csrf: false },
  ]),
];

const isRead = (m: string) => m === 'GET' || m === 'HEAD';

/** What the caller must get, from the route's declared access alone. */
function expected(
  route: { method: string; url: string; access?: string },
  cred: Cred,
  target: Target,
  recipe: Recipe,
): number | '2xx' {
  const access = route.access ?? 'default';
  const read = isRead(route.method);
  if (cred.kind === 'bad') return 401; // a credential that is wrong is refused even on public routes
  if (access === 'public') return recipe.publicStatus!;
  if (cred.kind === 'none') return 401;
  if (cred.kind === 'session' && !read && !cred.csrf) return 403;
  const permission =
    cred.kind === 'key' ? cred.permission : cred.role === 'viewer' ? 'read_only' : 'full';
  if (access === 'session' || access === 'own_session' || access === 'session_admin') {
    if (cred.kind === 'key') return 403;
    if (access === 'session' && !read && permission === 'read_only') return 403;
    if (access === 'session_admin' && !read && cred.role !== 'owner' && cred.role !== 'admin')
      return 403;
  } else {
    if (permission === 'analytics' && !(access === 'analytics' && read)) return 403;
    if (permission === 'read_only' && !read) return 403;
    if (cred.kind === 'key' && cred.limited && !read && !route.url.includes('/:appId')) return 403;
  }
  if (target === 'other') return 404;
  if (target === 'unlisted') return 404;
  return recipe.allowedStatus ?? '2xx';
}

let sessionUsers: Record<string, string>;

async function credential(cred: Cred): Promise<string | Org['session'] | undefined> {
  if (cred.kind === 'none') return undefined;
  if (cred.kind === 'bad') return `ak_live_${'x'.repeat(40)}`;
  if (cred.kind === 'key') return a.key(cred.permission, cred.limited ? [apps.a2] : null);
  const s = await createSession(t.sql, sessionUsers[cred.role], a.orgId);
  return { cookie: `apprefer_session=${s.token}`, csrfToken: cred.csrf ? s.csrfToken : 'wrong' };
}

/** Path ids of a call; a limited key's "own" app is the one it lists (a2), never a1. */
async function idsFor(target: Target, recipe: Recipe, limitedOwn: boolean): Promise<Ids> {
  const org = target === 'other' ? b : a;
  const appId = target === 'other' ? apps.b : limitedOwn ? apps.a2 : apps.a1;
  const key = target === 'other' ? fullKeys.b : fullKeys.a;
  let linkId = 'no-such-link';
  let keyId = 'key_0000000000000000';
  let userId = 'usr_0000000000000000';
  let invitationId = 'inv_0000000000000000';
  if (recipe.fresh === 'member') {
    userId = newId('usr');
    await t.sql`insert into users (id, email, password_hash) values (${userId}, ${`${userId.toLowerCase()}@matrix.test`}, 'x')`;
    await t.sql`insert into memberships (org_id, user_id, role) values (${org.orgId}, ${userId}, 'member')`;
  }
  if (recipe.fresh === 'invitation') {
    const made = await createInvitation(
      t.sql,
      { orgId: org.orgId, userId: org.userId, role: 'owner' },
      { email: `${newId('i').toLowerCase()}@matrix.test`, role: 'member' },
    );
    invitationId = made.row.id;
  }
  if (recipe.fresh === 'link') {
    const r = await api(t, 'POST', `/api/v1/apps/${appId}/links`, { auth: key, body: {} });
    linkId = r.body.data.id;
  }
  if (recipe.fresh === 'key') {
    const made = await api(t, 'GET', '/api/v1/me', { auth: await org.key('read_only') });
    keyId = made.body.data.apiKey.id;
  }
  return { appId, linkId, keyId, userId, invitationId };
}

beforeAll(async () => {
  t = await startTestServer(
    { LOGIN_RATE_LIMIT_PER_MINUTE: '100000', AUTH_FAILURES_PER_MINUTE: '100000' },
    undefined,
    { jobs: false },
  );
  a = await createOrg(t, 'Matrix A');
  b = await createOrg(t, 'Matrix B');
  [{ email: ownerEmail }] = await t.sql<{ email: string }[]>`
    select email from users where id = ${a.userId}`;
  fullKeys.a = await a.key();
  fullKeys.b = await b.key();
  apps.a1 = (
    await api(t, 'POST', '/api/v1/apps', { auth: fullKeys.a, body: appBody() })
  ).body.data.id;
  apps.a2 = (
    await api(t, 'POST', '/api/v1/apps', { auth: fullKeys.a, body: appBody() })
  ).body.data.id;
  apps.b = (
    await api(t, 'POST', '/api/v1/apps', { auth: fullKeys.b, body: appBody() })
  ).body.data.id;
  sessionUsers = { owner: a.userId };
  const hash = await hashPassword(OWNER_PASSWORD);
  for (const role of ['admin', 'member', 'viewer']) {
    const id = newId('usr');
    await t.sql`insert into users (id, email, password_hash) values (${id}, ${`${role}@matrix.test`}, ${hash})`;
    await t.sql`insert into memberships (org_id, user_id, role) values (${a.orgId}, ${id}, ${role})`;
    sessionUsers[role] = id;
  }
}, 60_000);
afterAll(() => t?.close());

describe('access matrix over every registered route', () => {
  it('knows every route: /api/v1 routes have a recipe, others are public on purpose', () => {
    const routes = t.app.registeredRoutes.filter((r) => r.method !== 'HEAD');
    const unknown = routes.filter((r) =>
      r.url.startsWith('/api/v1/') && !r.url.startsWith('/api/v1/docs')
        ? !RECIPES[`${r.method} ${r.url}`]
        : !PUBLIC_ROOT.some((re) => re.test(r.url)),
    );
    expect(
      unknown.map((r) => `${r.method} ${r.url}`),
      'routes this test does not know how to call: add a recipe (or a public root pattern)',
    ).toEqual([]);
    for (const r of routes.filter(
      (r) => r.url.startsWith('/api/v1/') && !r.url.startsWith('/api/v1/docs'),
    ))
      expect(
        ['public', 'session', 'own_session', 'session_admin', 'analytics', undefined],
        r.url,
      ).toContain(r.access);
  });

  it('every credential gets what the route declares, on its own and on other organizations', async () => {
    const routes = t.app.registeredRoutes.filter(
      (r) =>
        r.url.startsWith('/api/v1/') && !r.url.startsWith('/api/v1/docs') && r.method !== 'HEAD',
    );
    const failures: string[] = [];
    const cases: (() => Promise<void>)[] = [];
    for (const route of routes) {
      const recipe = RECIPES[`${route.method} ${route.url}`];
      const hasTarget = /:(appId|linkId|keyId|userId|invitationId)/.test(route.url);
      const targets: Target[] = !hasTarget
        ? ['own']
        : route.url.includes(':appId')
          ? ['own', 'other', 'unlisted']
          : ['own', 'other'];
      for (const cred of CREDS) {
        for (const target of targets) {
          // "unlisted": an app of the caller's organization that a limited key does not list.
          if (target === 'unlisted' && !(cred.kind === 'key' && cred.limited)) continue;
          cases.push(async () => {
            const limitedOwn = target === 'own' && cred.kind === 'key' && cred.limited;
            const ids = await idsFor(target, recipe, limitedOwn);
            const path =
              route.url
                .replace(':appId', ids.appId)
                .replace(':linkId', ids.linkId)
                .replace(':keyId', ids.keyId)
                .replace(':userId', ids.userId)
                .replace(':invitationId', ids.invitationId)
                .replace(':deliveryId', 'dlv_0000000000000000') +
              (recipe.query ? `?${recipe.query}` : '');
            const res = await api(t, route.method, path, {
              auth: await credential(cred),
              body: recipe.body?.(ids),
            });
            const want = expected(route, cred, target, recipe);
            const ok = want === '2xx' ? res.status >= 200 && res.status < 300 : res.status === want;
            if (!ok)
              failures.push(
                `${route.method} ${route.url} as ${cred.name} on ${target}: ${res.status}, expected ${want} ${JSON.stringify(res.body).slice(0, 200)}`,
              );
          });
        }
      }
    }
    // A few at a time: the order does not matter, each call has its own credential and ids.
    for (let i = 0; i < cases.length; i += 8)
      await Promise.all(cases.slice(i, i + 8).map((c) => c()));
    const calls = cases.length;
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(300);
  }, 120_000);
});
