import { Validator } from '@seriousme/openapi-schema-validator';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, appBody, createOrg, startTestServer, type TestServer } from '../../test/helpers.ts';

let t: TestServer;
let doc: any;
beforeAll(async () => {
  t = await startTestServer();
  doc = parse(await (await fetch(`${t.url}/openapi.yaml`)).text());
});
afterAll(() => t?.close());

const errorsOf = (method: string, path: string) =>
  Object.keys(doc.paths[path][method].responses)
    .filter((c) => c >= '400')
    .map(Number);

describe('OpenAPI document', () => {
  it('is served at /openapi.yaml and validates as OpenAPI 3.1', async () => {
    const res = await fetch(`${t.url}/openapi.yaml`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('yaml');
    const doc = parse(await res.text());
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['apiKey', 'session']);
  });

  it('lists every implemented /api/v1 route with its method, responses and error schema', async () => {
    const doc = parse(await (await fetch(`${t.url}/openapi.yaml`)).text());
    const implemented = t.app.registeredRoutes
      .filter(
        (r) =>
          r.url.startsWith('/api/v1/') &&
          !r.url.startsWith('/api/v1/docs') &&
          !r.hidden &&
          r.method !== 'HEAD',
      )
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(implemented.length).toBeGreaterThanOrEqual(10);
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const route of implemented) expect(documented, route).toContain(route);
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.summary, `${method} ${path} summary`).toBeTruthy();
        const codes = Object.keys(op.responses);
        expect(
          codes.some((c) => c.startsWith('2')),
          `${method} ${path} success`,
        ).toBe(true);
        if (path.startsWith('/api/v1/') && op.responses['401']) {
          expect(JSON.stringify(op.responses['401'])).toContain('Error');
        }
      }
    }
  });

  it('lists each component schema once, and only schemas an operation uses', () => {
    const schemas = doc.components.schemas as Record<string, unknown>;
    const names = Object.keys(schemas);
    for (const name of names) expect(names, name).not.toContain(`${name}Input`);
    expect(new Set(Object.values(schemas).map((s) => JSON.stringify(s))).size).toBe(names.length);
    const referenced = JSON.stringify([doc.paths, schemas]);
    for (const name of names) expect(referenced, name).toContain(`"#/components/schemas/${name}"`);
    expect(names).toEqual(
      expect.arrayContaining([
        'App',
        'AppCreate',
        'Link',
        'LinkCreate',
        'Error',
        'SdkConfigureRequest',
      ]),
    );
  });

  it('documents per operation the errors it can return, each described', () => {
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      if (!path.startsWith('/api/v1/')) continue;
      for (const [method, op] of Object.entries(ops)) {
        const errors = errorsOf(method, path);
        expect(errors, `${method} ${path}`).toEqual(expect.arrayContaining([401, 429]));
        // 413 and 415 come from reading a body: only where the operation takes one.
        const takesBody = Boolean(op.requestBody);
        expect(errors.includes(413) && errors.includes(415), `${method} ${path} 413/415`).toBe(
          takesBody,
        );
        for (const [code, r] of Object.entries(op.responses as Record<string, any>)) {
          expect(r.description, `${method} ${path} ${code}`).not.toBe('Default Response');
        }
      }
    }
    expect(errorsOf('get', '/api/v1/me')).toEqual([401, 429]);
    expect(errorsOf('get', '/api/v1/apps/{appId}/stats')).toEqual([400, 401, 404, 429]);
    expect(errorsOf('post', '/api/v1/apps/{appId}/links')).toEqual([
      400, 401, 403, 404, 409, 413, 415, 429,
    ]);
  });

  it('documents the errors these requests get', async () => {
    const org = await createOrg(t);
    const full = await org.key('full');
    const analytics = await org.key('analytics');
    const probes: [string, string, Parameters<typeof api>[3], number][] = [
      ['GET', '/api/v1/me', {}, 401],
      ['GET', '/api/v1/apps', { auth: analytics }, 403],
      ['GET', '/api/v1/apps/app_00000000000', { auth: full }, 404],
      ['GET', '/api/v1/apps?limit=0', { auth: full }, 400],
      [
        'POST',
        '/api/v1/apps',
        { auth: full, rawBody: '<app/>', headers: { 'content-type': 'application/xml' } },
        415,
      ],
      [
        'POST',
        '/api/v1/apps',
        {
          auth: full,
          rawBody: JSON.stringify({ name: 'x'.repeat(1_100_000) }),
          headers: { 'content-type': 'application/json' },
        },
        413,
      ],
      ['POST', '/api/v1/apps', { auth: full, body: appBody({ legacyAppId: 'taken' }) }, 201],
      ['POST', '/api/v1/apps', { auth: full, body: appBody({ legacyAppId: 'taken' }) }, 409],
      [
        'POST',
        '/api/v1/auth/setup',
        {
          body: {
            organizationName: 'X',
            email: 'x@example.com',
            password: 'long enough password',
            setupToken: 'whatever',
          },
        },
        409,
      ],
      ['DELETE', '/api/v1/api-keys/key_none', { auth: full }, 403],
    ];
    for (const [method, path, opts, status] of probes) {
      const res = await api(t, method, path, opts);
      expect(res.status, `${method} ${path}`).toBe(status);
      const documented = path
        .replace(/\?.*/, '')
        .replace(/app_\w+/, '{appId}')
        .replace(/key_\w+/, '{keyId}');
      expect(
        Object.keys(doc.paths[documented][method.toLowerCase()].responses),
        `${method} ${path}`,
      ).toContain(String(status));
    }
  });

  it('documents the SDK endpoints: body, X-AppRefer-Key, answers', () => {
    for (const path of ['/api/track/configure', '/api/track/event']) {
      const op = doc.paths[path].post;
      expect(op.security).toEqual([]);
      expect(op.parameters.map((p: { name: string }) => p.name)).toContain('X-AppRefer-Key');
      expect(op.requestBody.content['application/json'].schema.$ref).toMatch(
        /^#\/components\/schemas\/Sdk\w+Request$/,
      );
      expect(Object.keys(op.responses)).toEqual(['200', '400', '401', '413', '503']);
      expect(JSON.stringify(op.responses['401'])).toContain('SdkError');
      expect(op.servers.map((s: { url: string }) => s.url)).toEqual([
        t.config.trackingUrl,
        t.config.publicUrl,
      ]);
    }
    expect(doc.components.schemas.SdkConfigureRequest.required).toEqual(['device_id']);
    expect(doc.components.schemas.SdkEventRequest.required).toEqual(['device_id', 'event_name']);
  });

  it('serves Swagger UI from local assets', async () => {
    const page = await fetch(`${t.url}/api/v1/docs/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    expect(html).not.toMatch(/https?:\/\/(cdn|unpkg|cdnjs)/);
    expect(html).toContain(
      '<title>API reference · AppRefer-compatible attribution platform</title>',
    );
    // The top bar shows the product's inline SVG mark and name, not Swagger's logo.
    const init = await (await fetch(`${t.url}/api/v1/docs/static/swagger-initializer.js`)).text();
    const logo = /data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)/.exec(init);
    expect(Buffer.from(logo![1], 'base64').toString()).toContain(
      'AppRefer-compatible attribution platform</text>',
    );
    const js = await fetch(`${t.url}/api/v1/docs/static/swagger-ui-bundle.js`);
    expect(js.status).toBe(200);
    // Read it all: an unread body keeps its connection busy, and closing the server waits for it.
    expect((await js.text()).length).toBeGreaterThan(100_000);
  });

  it('healthz and readyz answer', async () => {
    expect((await api(t, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await api(t, 'GET', '/readyz')).body).toMatchObject({
      status: 'ok',
      database: 'reachable',
    });
  });
});
