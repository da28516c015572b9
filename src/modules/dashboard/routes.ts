import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiInstance } from '../../http/types.ts';
import { htmlHeaders, SELF_SCRIPTS_CSP } from '../../http/security-headers.ts';
import { DIST_DIR } from './build.ts';

/** Paths the dashboard's router owns: each answers the app's page, which then draws the route. */
const PAGE_PATHS = [
  '/',
  '/login',
  '/setup',
  '/invite',
  '/apps',
  '/apps/*',
  '/portfolio',
  '/settings',
  '/settings/*',
];

type StaticFile = { body: Buffer; gzip: Buffer | null; type: string };

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** dist/web in memory (a few hundred kB): each file with its gzip form when that is smaller. */
function loadDist(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(DIST_DIR)) return files;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.startsWith('.')) {
        const body = readFileSync(p);
        const gz = gzipSync(body, { level: 9 });
        const type = TYPES[path.extname(p)] ?? 'application/octet-stream';
        files.set(`/${path.relative(DIST_DIR, p).split(path.sep).join('/')}`, {
          body,
          gzip: gz.length < body.length ? gz : null,
          type,
        });
      }
    }
  };
  walk(DIST_DIR);
  return files;
}

function send(req: FastifyRequest, reply: FastifyReply, file: StaticFile) {
  reply.header('content-type', file.type).header('vary', 'accept-encoding');
  if (file.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    return reply.header('content-encoding', 'gzip').send(file.gzip);
  }
  return reply.send(file.body);
}

/**
 * The dashboard: a single-page app (web/) on the public /api/v1 with the session cookie. Its
 * fingerprinted assets are cached for a year; the page itself is revalidated on every load.
 */
export async function dashboardRoutes(app: ApiInstance) {
  const files = loadDist();
  const page = files.get('/index.html') ?? null;

  for (const url of PAGE_PATHS) {
    app.get(url, { schema: { hide: true } }, async (req, reply) => {
      reply.headers(htmlHeaders(SELF_SCRIPTS_CSP)).header('cache-control', 'no-cache');
      if (!page) {
        return reply
          .code(503)
          .type('text/html; charset=utf-8')
          .send(
            '<!doctype html><title>Dashboard not built</title><p>The dashboard has not been built. <code>npm start</code> builds it.</p>',
          );
      }
      return send(req, reply, page);
    });
  }
  app.get('/assets/*', { schema: { hide: true } }, async (req, reply) => {
    const file = files.get(req.url.split('?')[0]);
    if (!file) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff');
    return send(req, reply, file);
  });
}
