import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { buildServer } from './server.ts';
import type { ApiInstance } from './types.ts';
import { createServices } from '../runtime.ts';
import { MODULES } from '../modules/index.ts';
import { createTestDatabase } from '../../test/helpers.ts';
import { setupToken } from '../modules/auth/setup-token.ts';

const lines: string[] = [];
let app: ApiInstance;
let base: string;
let drop: () => Promise<void>;
let token: string;

beforeAll(async () => {
  const db = await createTestDatabase();
  drop = db.drop;
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).trim().split('\n'));
      cb();
    },
  });
  const config = loadConfig({
    DATA_DIR: '/tmp/apprefer-logging-test',
    SECRET_KEY: 'x'.repeat(40),
    DATABASE_URL: db.url,
    LOG_LEVEL: 'info',
  });
  token = setupToken(config);
  app = await buildServer(createServices(config, db.sql, pino({ level: 'info' }, sink)), MODULES);
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await app?.close();
  await drop?.();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('request logs', () => {
  it('one JSON line per request with request id, status and time; no password, key, cookie or query string', async () => {
    const password = 'super secret password 42';
    const setup = await post('/api/v1/auth/setup', {
      organizationName: 'Log Co',
      email: 'log@example.com',
      password,
      setupToken: token,
    });
    const { csrfToken } = (await setup.json()).data;
    const cookie = setup.headers.get('set-cookie')!.split(';')[0];
    const created = await post(
      '/api/v1/api-keys',
      { name: 'k', permission: 'full' },
      { cookie, 'x-csrf-token': csrfToken },
    );
    const { key } = (await created.json()).data;
    // An unknown query parameter is a 400; either way the query string is not logged.
    await fetch(`${base}/api/v1/apps?limit=5&token=query-secret`, {
      headers: { authorization: `Bearer ${key}`, 'x-request-id': 'log-test-1' },
    });
    await fetch(`${base}/api/v1/apps`, {
      headers: { authorization: 'Bearer ak_live_wrongwrongwrongwrongwrongwrongwrongwrong' },
    });
    // The click path is served before Fastify (raw routes) and logs the same line.
    await (
      await fetch(`${base}/api/c/no-such-link?fbclid=click-query-secret`, {
        headers: { 'x-request-id': 'log-test-2' },
      })
    ).text();
    await new Promise((r) => setTimeout(r, 50));

    const all = lines.join('\n');
    for (const secret of [
      password,
      key,
      key.slice(8),
      cookie.split('=')[1],
      csrfToken,
      'query-secret',
      'ak_live_wrongwrong',
      'click-query-secret',
    ]) {
      expect(all).not.toContain(secret);
    }
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /api/v1/auth/setup 200',
      'POST /api/v1/api-keys 201',
      'GET /api/v1/apps 400',
      'GET /api/v1/apps 401',
      'GET /api/c/no-such-link 404',
    ]);
    expect(requests.find((r) => r.reqId === 'log-test-2')?.path).toBe('/api/c/no-such-link');
    const traced = requests.find((r) => r.reqId === 'log-test-1');
    expect(traced).toBeDefined();
    expect(typeof traced.ms).toBe('number');
  });
});
