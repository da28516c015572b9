import { Validator } from '@seriousme/openapi-schema-validator';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../../test/helpers.ts';

let t: TestServer;
beforeAll(async () => { t = await startTestServer(); });
afterAll(() => t?.close());

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
      .filter((r) => r.url.startsWith('/api/v1/') && !r.url.startsWith('/api/v1/docs') && !r.hidden && r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(implemented.length).toBeGreaterThanOrEqual(10);
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    for (const route of implemented) expect(documented, route).toContain(route);
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.summary, `${method} ${path} summary`).toBeTruthy();
        const codes = Object.keys(op.responses);
        expect(codes.some((c) => c.startsWith('2')), `${method} ${path} success`).toBe(true);
        if (path.startsWith('/api/v1/') && op.responses['401']) {
          expect(JSON.stringify(op.responses['401'])).toContain('Error');
        }
      }
    }
  });

  it('serves Swagger UI from local assets', async () => {
    const page = await fetch(`${t.url}/api/v1/docs/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    expect(html).not.toMatch(/https?:\/\/(cdn|unpkg|cdnjs)/);
    const js = await fetch(`${t.url}/api/v1/docs/static/swagger-ui-bundle.js`);
    expect(js.status).toBe(200);
    // Read it all: an unread body keeps its connection busy, and closing the server waits for it.
    expect((await js.text()).length).toBeGreaterThan(100_000);
  });

  it('healthz and readyz answer', async () => {
    expect((await api(t, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await api(t, 'GET', '/readyz')).body).toEqual({ status: 'ok', database: 'reachable' });
  });
});
