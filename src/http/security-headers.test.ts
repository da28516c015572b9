import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, appBody, createOrg, startTestServer, type TestServer } from '../../test/helpers.ts';

let t: TestServer;
let linkId: string;
beforeAll(async () => {
  t = await startTestServer({}, undefined, { jobs: false });
  const key = await (await createOrg(t)).key();
  const app = await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody() });
  linkId = (await api(t, 'POST', `/api/v1/apps/${app.body.data.id}/links`, { auth: key, body: {} }))
    .body.data.id;
});
afterAll(() => t?.close());

const DESKTOP =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36';

describe('security headers of HTML pages', () => {
  it.each([
    ['the dashboard page', '/'],
    ['Swagger UI', '/api/v1/docs/'],
    ['a click landing page', () => `/api/c/${linkId}`],
    ['the link-not-found page', '/api/c/no-such-link'],
  ])('%s: nosniff, a CSP with frame-ancestors none, no framing', async (_name, path) => {
    const res = await fetch(t.url + (typeof path === 'function' ? path() : path), {
      headers: { 'user-agent': DESKTOP },
    });
    await res.text();
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/default-src '(none|self)'/);
    expect(csp).not.toContain("script-src 'unsafe-inline'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  it('API answers are nosniff too', async () => {
    const res = await api(t, 'GET', '/api/v1/me');
    expect(res.status).toBe(401);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('slow clients', () => {
  it('a request must arrive within 30 s (requestTimeout), so no sender holds a socket for ever', () => {
    expect(t.app.server.requestTimeout).toBe(30_000);
  });
});
