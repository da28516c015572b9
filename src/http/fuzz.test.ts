/**
 * Property-based fuzzing of every operation in the OpenAPI document (the management API and both
 * SDK endpoints) and of the click paths: values generated from each operation's own schemas,
 * mixed with wrong types, empty / huge / Unicode / NUL / lone-surrogate strings, deep nesting,
 * extreme numbers and dates, in bodies, paths and query strings. No request may get a 5xx, and the
 * process must be healthy afterwards. Fixed seed, bounded runs: the same few hundred requests on
 * every run.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../modules/auth/accounts.ts';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type Org,
  type TestServer,
} from '../../test/helpers.ts';

const SEED = 20261201;
const RUNS_PER_OPERATION = 16;

let t: TestServer;
let org: Org;
let key: string;
let appId: string;
let linkId: string;
let sdkKey: string;
let doc: any;

beforeAll(async () => {
  t = await startTestServer(
    {
      API_RATE_LIMIT_PER_MINUTE: '1000000',
      LOGIN_RATE_LIMIT_PER_MINUTE: '1000000',
      AUTH_FAILURES_PER_MINUTE: '1000000',
    },
    undefined,
    { jobs: false },
  );
  org = await createOrg(t);
  key = await org.key('full');
  const app = await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody() });
  appId = app.body.data.id;
  sdkKey = app.body.data.sdkKeys.live;
  linkId = (await api(t, 'POST', `/api/v1/apps/${appId}/links`, { auth: key, body: {} })).body.data
    .id;
  doc = await (await fetch(`${t.url}/openapi.json`)).json();
}, 60_000);
afterAll(() => t?.close());

// ------------------------------------------------------------------------------------------------
// Values.

const LONE_SURROGATES = ['\ud800', '\udfff', 'a\ud83d', '\ude00b'];
const nastyString = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    ...LONE_SURROGATES,
    '😀'.repeat(600),
    '\u202e\u200b\ufeff',
    'ﷺ'.repeat(50),
    '../../etc/passwd',
    '%00',
    '%',
    '%ZZ',
    "' or 1=1 --",
    '${jndi:ldap://x}',
    '<script>alert(1)</script>',
    '__proto__',
    'constructor',
    'NaN',
    'Infinity',
    '-0',
    '1e309',
    '-1e309',
    '99999999999999999999999999',
    '0x7fffffff',
    '9999-12-31',
    '0000-01-01',
    '2024-02-30',
    '+275760-09-13T00:00:00.000Z',
    '1970-01-01T00:00:00Z',
    'true',
    'null',
    'x'.repeat(70_000),
    '9'.repeat(5_000),
  ),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 300 }),
);
const extremeNumber = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    1e308,
    -1e308,
    5e-324,
    Number.MAX_SAFE_INTEGER + 2,
    -Number.MAX_SAFE_INTEGER - 2,
    2 ** 31,
    -(2 ** 31) - 1,
    0.1,
    253402300800000,
    -62198755200000,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
const deep = (n: number): unknown => {
  let v: unknown = 'bottom';
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v };
  return v;
};
const wrongType = fc.oneof(
  nastyString,
  extremeNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.constantFrom(deep(50), deep(2_000)),
  fc.dictionary(nastyString, nastyString, { maxKeys: 3 }),
  fc.array(nastyString, { maxLength: 3 }),
);

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null;

function deref(schema: any): any {
  let s = schema;
  while (isObject(s) && typeof s.$ref === 'string') {
    s = doc.components.schemas[s.$ref.replace('#/components/schemas/', '')];
  }
  return s ?? {};
}

/** Values shaped by the schema most of the time, anything at all otherwise. */
function fromSchema(schema: any, depth = 0): fc.Arbitrary<unknown> {
  const s = deref(schema);
  const typed = typedFromSchema(s, depth);
  // Mostly well-typed at every level, so that requests get past validation into the handlers.
  return fc.oneof(
    { weight: depth ? 12 : 4, arbitrary: typed },
    { weight: 1, arbitrary: wrongType },
  );
}

function typedFromSchema(s: any, depth: number): fc.Arbitrary<unknown> {
  if (Array.isArray(s.enum) && s.enum.length) return fc.constantFrom(...s.enum);
  const examples = s.examples ?? (s.example !== undefined ? [s.example] : []);
  if (examples.length && depth > 0)
    return fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...examples) },
      { weight: 1, arbitrary: typedFromSchema({ ...s, examples: [], example: undefined }, depth) },
    );
  if ('const' in s) return fc.constant(s.const);
  const alternatives = s.anyOf ?? s.oneOf;
  if (Array.isArray(alternatives) && alternatives.length)
    return fc.oneof(...alternatives.map((a: any) => fromSchema(a, depth + 1)));
  const type = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const arbs: fc.Arbitrary<unknown>[] = [];
  for (const ty of type) {
    if (ty === 'object' && depth < 4) {
      const props: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) props[k] = fromSchema(v, depth + 1);
      arbs.push(
        fc
          .tuple(
            fc.record(props, {
              requiredKeys: (s.required ?? []).filter((k: string) => k in props),
            }),
            fc.option(fc.tuple(nastyString, wrongType), { freq: 4 }),
          )
          .map(([o, extra]) => (extra ? { ...o, [extra[0]]: extra[1] } : o)),
      );
    } else if (ty === 'array' && depth < 4) {
      arbs.push(fc.array(fromSchema(s.items ?? {}, depth + 1), { maxLength: 4 }));
    } else if (ty === 'string') {
      arbs.push(
        s.format === 'date' || s.format === 'date-time'
          ? fc.oneof(
              fc.date().map((d) => (isNaN(+d) ? 'x' : d.toISOString())),
              nastyString,
            )
          : nastyString,
      );
    } else if (ty === 'integer' || ty === 'number') {
      const min = s.minimum ?? s.exclusiveMinimum ?? -1e9;
      const max = s.maximum ?? s.exclusiveMaximum ?? 1e9;
      const valid =
        ty === 'integer'
          ? fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) })
          : fc.double({ min, max, noNaN: true });
      arbs.push(fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: extremeNumber }));
    } else if (ty === 'boolean') arbs.push(fc.boolean());
    else if (ty === 'null') arbs.push(fc.constant(null));
  }
  return arbs.length ? fc.oneof(...arbs) : wrongType;
}

/** Percent-encodes the UTF-8 bytes of a string (lone surrogates become U+FFFD), or passes malformed escapes through. */
const encode = (s: string) =>
  [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const pathValue = (real: string) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(encode(real)) },
    { weight: 3, arbitrary: nastyString.map(encode) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('%', '%ZZ', '%E0%A4', '%ED%A0%80', '%C0%80', '.', '..'),
    },
  );
const queryValue = fc.oneof(
  nastyString.map(encode),
  fc.constantFrom('%', '%ZZ', '%E0%A4', '%ED%A0%80', '', '%00', '2999-12-31', '1999-12-31'),
);

/** A body: shaped by the schema, anything JSON, or bytes that are no JSON at all. */
const rawBodies = fc.constantFrom(
  '',
  '{',
  'null',
  '[]',
  '1e999',
  '"\\ud800"',
  '{"a":"\\u0000"}',
  '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
  '{"a":1,"a":2}',
  '['.repeat(20_000) + ']'.repeat(20_000),
  '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
  Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('latin1'),
);

// ------------------------------------------------------------------------------------------------
// Requests.

type Op = { path: string; method: string; op: any };
const operations = (): Op[] =>
  Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
  );

const VALID_BODIES: Record<string, () => Record<string, unknown>> = {
  'POST /api/v1/apps': () => appBody(),
  'PATCH /api/v1/apps/{appId}': () => ({ name: 'Renamed' }),
  'POST /api/v1/apps/{appId}/links': () => ({ network: 'meta' }),
  'PATCH /api/v1/apps/{appId}/links/{linkId}': () => ({ name: 'n' }),
  'POST /api/v1/api-keys': () => ({ name: 'fuzz', permission: 'read_only' }),
  'POST /api/v1/auth/login': () => ({ email: 'nobody@example.com', password: 'long enough 123' }),
  'POST /api/v1/auth/password': () => ({
    currentPassword: 'not the password',
    newPassword: 'long enough 123',
  }),
  'POST /api/v1/auth/invitations/lookup': () => ({ token: 'inv_0000000000000000.x' }),
  'POST /api/v1/auth/invitations/accept': () => ({
    token: 'inv_0000000000000000.x',
    password: 'long enough 123',
  }),
  'POST /api/v1/team/invitations': () => ({ email: 'fuzz@example.com', role: 'member' }),
  'PATCH /api/v1/team/members/{userId}': () => ({ role: 'admin' }),
  'POST /api/track/configure': () => ({
    device_id: 'fuzz-device',
    device_info: { platform: 'ios' },
  }),
  'POST /api/track/event': () => ({ device_id: 'fuzz-device', event_name: 'purchase' }),
};

const REAL_IDS: Record<string, () => string> = {
  appId: () => appId,
  linkId: () => linkId,
  keyId: () => 'key_0000000000000000',
  deliveryId: () => 'dlv_0000000000000000',
  // The owner's own id: changing their own role is refused, removing the last owner too.
  userId: () => org.userId,
  invitationId: () => 'inv_0000000000000000',
};

function requestArb(o: Op) {
  const { path, op } = o;
  const params: any[] = op.parameters ?? [];
  const pathNames = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  for (const n of pathNames)
    if (!REAL_IDS[n]) throw new Error(`fuzz: no real value for path parameter {${n}} of ${path}`);
  const pathArb = fc
    .tuple(...pathNames.map((n) => pathValue(REAL_IDS[n]())))
    .map((values) => pathNames.reduce((p, n, i) => p.replace(`{${n}}`, values[i]), path));
  const queryNames = params.filter((p) => p.in === 'query').map((p) => p.name as string);
  const queryArb = fc
    .array(
      fc.tuple(
        fc.oneof({ weight: 5, arbitrary: fc.constantFrom('', ...queryNames) }, nastyString),
        queryValue,
      ),
      { maxLength: 5 },
    )
    .map((pairs) =>
      pairs
        .filter(([k]) => k !== '')
        .map(([k, v]) => `${encode(k)}=${v}`)
        .join('&'),
    );
  const schema = op.requestBody?.content?.['application/json']?.schema;
  // A valid body with one field replaced reaches the handler; whole generated bodies rarely do.
  const valid = VALID_BODIES[`${o.method} ${path}`]?.() ?? {};
  const props = Object.entries(deref(schema ?? {}).properties ?? {});
  const oneField = props.length
    ? fc
        .constantFrom(...props)
        .chain(([k, v]) => fromSchema(v, 1).map((value) => ({ ...valid, [k]: value })))
    : fc.constant(valid);
  const bodyArb: fc.Arbitrary<string | undefined> = schema
    ? fc.oneof(
        { weight: 5, arbitrary: oneField.map((v) => JSON.stringify(v)) },
        { weight: 3, arbitrary: fromSchema(schema).map((v) => JSON.stringify(v)) },
        { weight: 1, arbitrary: rawBodies },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
      )
    : fc.option(rawBodies, { freq: 3, nil: undefined });
  return fc.record({
    path: pathArb,
    query: fc.oneof(fc.constant(''), queryArb), // unknown query fields are a 400 before the handler
    body: bodyArb,
    contentType: fc.constantFrom(
      'application/json',
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
    ),
  });
}

async function authHeaders(path: string, op: any): Promise<Record<string, string>> {
  if (path.startsWith('/api/track/')) return { 'x-apprefer-key': sdkKey, 'x-sdk-version': '0.4.0' };
  const sessionOnly = JSON.stringify(op.security ?? []) === JSON.stringify([{ session: [] }]);
  if (!sessionOnly) return { authorization: `Bearer ${key}` };
  const s = await createSession(t.sql, org.userId, org.orgId);
  return { cookie: `apprefer_session=${s.token}`, 'x-csrf-token': s.csrfToken };
}

const fiveHundreds: string[] = [];

async function send(method: string, url: string, headers: Record<string, string>, body?: string) {
  const res = await fetch(t.url + url, {
    method,
    headers,
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
    redirect: 'manual',
  });
  const text = await res.text();
  // The management API answers every error in its envelope (docs/spec/api.md), whatever broke.
  if (url.startsWith('/api/v1/') && res.status >= 400 && res.status !== 405) {
    let code: unknown;
    try {
      code = JSON.parse(text).error?.code;
    } catch {
      /* reported below */
    }
    if (typeof code !== 'string')
      fiveHundreds.push(
        `${method} ${url.slice(0, 200)}: not an error envelope: ${text.slice(0, 200)}`,
      );
  }
  if (res.status >= 500)
    fiveHundreds.push(
      `${method} ${url.slice(0, 200)} body=${String(body).slice(0, 200)} → ${res.status} ${text.slice(0, 200)}`,
    );
  return res.status;
}

describe('fuzzing every operation', () => {
  it('lists the operations it fuzzes: every documented one, the SDK endpoints among them', () => {
    const ops = operations().map((o) => `${o.method} ${o.path}`);
    expect(ops).toEqual(
      expect.arrayContaining(['POST /api/track/configure', 'POST /api/track/event']),
    );
    expect(ops.length).toBeGreaterThan(20);
  });

  it('no request gets a 5xx', async () => {
    for (const o of operations()) {
      const runs = o.path.startsWith('/api/track/') ? RUNS_PER_OPERATION * 4 : RUNS_PER_OPERATION;
      await fc.assert(
        fc.asyncProperty(requestArb(o), async (r) => {
          const headers = { ...(await authHeaders(o.path, o.op)), 'content-type': r.contentType };
          const status = await send(
            o.method,
            r.path + (r.query ? `?${r.query}` : ''),
            headers,
            r.body,
          );
          return status < 500;
        }),
        { seed: SEED, numRuns: runs, endOnFailure: true },
      );
      // Whatever the operation archived, disabled or deleted comes back for the next one.
      await t.sql`update apps set archived_at = null, sdk_enabled = true where id = ${appId}`;
      await t.sql`update links set deleted_at = null where id = ${linkId}`;
      await t.sql.notify('apprefer_app_changed', appId);
    }
    expect(fiveHundreds).toEqual([]);
  }, 120_000);

  it('SDK endpoints with legacy or nasty credentials, and click paths with nasty ids and queries', async () => {
    const sdk = fc.record({
      path: fc.constantFrom('/api/track/configure', '/api/track/event'),
      appIdHeader: fc.option(nastyString, { nil: undefined }),
      keyHeader: fc.option(fc.oneof(nastyString, fc.constant(sdkKey)), { nil: undefined }),
      body: fc.oneof(
        fc
          .record(
            {
              app_id: fc.oneof(nastyString, fc.constant(appId)),
              device_id: nastyString,
              event_name: nastyString,
              revenue: fc.oneof(nastyString, extremeNumber),
              currency: nastyString,
              created_at: fc.oneof(nastyString, extremeNumber),
              properties: wrongType,
              device_info: wrongType,
              ar_click_id: nastyString,
              install_referrer: nastyString,
              referrer_click_ts: extremeNumber,
            },
            { requiredKeys: [] },
          )
          .map((v) => JSON.stringify(v)),
        rawBodies,
      ),
    });
    await fc.assert(
      fc.asyncProperty(sdk, async (r) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        // Header values must be Latin-1 without control characters for fetch to send them.
        const asHeader = (v: string) => v.replace(/[^\x20-\x7e]/g, '?');
        if (r.appIdHeader !== undefined) headers['x-app-id'] = asHeader(r.appIdHeader);
        if (r.keyHeader !== undefined) headers['x-apprefer-key'] = asHeader(r.keyHeader);
        return (await send('POST', r.path, headers, r.body)) < 500;
      }),
      { seed: SEED, numRuns: 120, endOnFailure: true },
    );
    const clicks = fc.record({
      prefix: fc.constantFrom('/api/c/', '/g/'),
      id: pathValue(linkId),
      query: fc
        .array(fc.tuple(nastyString.map(encode), queryValue), { maxLength: 6 })
        .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&')),
      ua: fc.constantFrom(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15',
        'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile',
        '',
        'x'.repeat(8_000),
      ),
    });
    await fc.assert(
      fc.asyncProperty(clicks, async (r) => {
        const headers: Record<string, string> = { 'user-agent': r.ua };
        return (
          (await send('GET', `${r.prefix}${r.id}${r.query ? `?${r.query}` : ''}`, headers)) < 500
        );
      }),
      { seed: SEED, numRuns: 80, endOnFailure: true },
    );
    expect(fiveHundreds).toEqual([]);
  }, 120_000);

  it('the process is healthy afterwards', async () => {
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const me = await api(t, 'GET', '/api/v1/me', { auth: key });
    expect(me.status).toBe(200);
    const sdk = await fetch(`${t.url}/api/track/configure`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-apprefer-key': sdkKey },
      body: JSON.stringify({ device_id: 'after-fuzz' }),
    });
    expect(sdk.status).toBe(200);
  });
});
