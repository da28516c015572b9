import { request } from 'node:http';
import { randomBase62 } from '../../lib/crypto.ts';
import type { Sql } from '../../db/client.ts';
import { UA } from './ua.fixtures.ts';
import { api, appBody, createOrg, type TestServer } from '../../../test/helpers.ts';

/** An organization with a full key and one app (App Store, Play and no web URL unless given). */
export async function setupApp(t: TestServer, over: Record<string, unknown> = {}) {
  const org = await createOrg(t);
  const key = await org.key('full');
  const app = (await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody(over) })).body.data;
  const createLink = async (body: Record<string, unknown> = {}) => {
    const r = await api(t, 'POST', `/api/v1/apps/${app.id}/links`, {
      auth: key,
      body: { id: `l-${randomBase62(10).toLowerCase()}`, ...body },
    });
    if (r.status !== 201) throw new Error(`link not created: ${JSON.stringify(r.body)}`);
    return r.body.data as { id: string };
  };
  return { org, key, app, createLink };
}

/** One request to a tracking URL with node:http (full control of headers: fetch adds a User-Agent), never following a redirect. */
export function hit(
  t: Pick<TestServer, 'url'>,
  path: string,
  opts: { ua?: string | null; method?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.ua !== null) headers['user-agent'] = opts.ua ?? UA.iphoneSafari;
  return new Promise<{
    status: number;
    location: string | null;
    cacheControl: string | null;
    contentType: string | null;
    requestId: string | null;
    body: string;
  }>((resolve, reject) => {
    const req = request(t.url + path, { method: opts.method ?? 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          location: res.headers.location ?? null,
          cacheControl: res.headers['cache-control'] ?? null,
          contentType: res.headers['content-type'] ?? null,
          requestId: (res.headers['x-request-id'] as string | undefined) ?? null,
          body,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** A unique marker for a click URL, to find its row again: `?m=<marker>`. */
export const marker = () => randomBase62(12);

/** The clicks rows carrying `query_params.m = marker`, once `count` of them are written (the writer batches in the background). */
export async function clicksWithMarker(
  sql: Sql,
  m: string,
  count = 1,
  timeoutMs = 10_000,
): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows =
      await sql`select * from clicks where query_params->>'m' = ${m} order by clicked_at, duplicate_of nulls first, id`;
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Retries `fn` until it stops throwing (for effects that arrive asynchronously, like a NOTIFY). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
