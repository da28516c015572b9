import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { randomBase62 } from '../lib/crypto.ts';
import { clientIp, type TrustProxy } from './client-ip.ts';

/** What a raw route's handler gets besides the request and the response. */
export type RawRequest = {
  /** The request id (a valid incoming X-Request-Id, else a new one), already set on the response. */
  id: string;
  /** The one path segment after the prefix, percent-decoded. */
  segment: string;
  /** The raw query string, without `?`. */
  query: string;
  /** The client address (X-Forwarded-For from trusted proxies only). */
  ip: string;
};

/** A GET/HEAD route answered by node:http itself, before Fastify sees the request. */
export type RawRoute = {
  /** Matches `${prefix}{segment}`, with or without a trailing slash. Anything else goes to Fastify. */
  prefix: string;
  handle: (req: IncomingMessage, res: ServerResponse, r: RawRequest) => Promise<void>;
};

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A valid incoming X-Request-Id, else a new `req_…` id. */
export function requestId(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming)
    ? incoming
    : `req_${randomBase62(16)}`;
}

/** The fields of the one log line per request, for Fastify's routes and raw ones: never the query string. */
export function requestLogFields(method: string, url: string, status: number, ms: number) {
  return { method, path: url.split('?')[0], status, ms: Math.round(ms * 10) / 10 };
}

/**
 * Routes that skip Fastify: the click redirect and landing page, where Fastify's per-request work
 * (request and reply objects, hooks, a child logger) was a fifth of a click's cost
 * (docs/links.md, bench/redirect). They keep the server's conventions by hand: X-Request-Id,
 * the client address rule, one log line per request, `Connection: close` while shutting down,
 * and a logged 500 when a handler throws.
 */
export class RawRoutes {
  private routes: RawRoute[] = [];
  /** Set when the server begins to close. */
  closing = false;

  constructor(
    private trust: TrustProxy,
    private log: Logger,
  ) {}

  add(route: RawRoute) {
    this.routes.push(route);
  }

  /** For Fastify's `serverFactory`: the HTTP server Fastify would create, with raw routes in front. */
  serverFactory = (
    fastifyHandler: (req: IncomingMessage, res: ServerResponse) => void,
    opts: Record<string, unknown>,
  ): Server => {
    const server = createServer((opts.http as object | undefined) ?? {}, (req, res) => {
      if (!this.dispatch(req, res)) fastifyHandler(req, res);
    });
    // What Fastify sets on a server it creates itself (lib/server.js).
    server.keepAliveTimeout = opts.keepAliveTimeout as number;
    server.requestTimeout = opts.requestTimeout as number;
    server.setTimeout(opts.connectionTimeout as number);
    return server;
  };

  /** Answers the request if a raw route matches it; false hands it to Fastify. */
  private dispatch(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '';
    for (const route of this.routes) {
      if (!url.startsWith(route.prefix)) continue;
      const q = url.indexOf('?', route.prefix.length);
      let segment = url.slice(route.prefix.length, q === -1 ? undefined : q);
      if (segment.endsWith('/')) segment = segment.slice(0, -1);
      if (!segment || segment.includes('/')) return false;
      if (segment.includes('%')) {
        try {
          segment = decodeURIComponent(segment);
        } catch {
          return false;
        }
      }
      const id = requestId(req.headers['x-request-id']);
      res.setHeader('x-request-id', id);
      if (this.closing) res.setHeader('connection', 'close');
      if (this.log.isLevelEnabled('info')) this.logWhenDone(req, res, id, url);
      const ip = clientIp(
        req.socket.remoteAddress ?? '',
        req.headers['x-forwarded-for'],
        this.trust,
      );
      route
        .handle(req, res, { id, segment, query: q === -1 ? '' : url.slice(q + 1), ip })
        .catch((err) => {
          this.log.error({ err, reqId: id }, 'request failed');
          if (res.headersSent) return void res.destroy();
          res.writeHead(500, {
            'content-type': 'text/plain; charset=utf-8',
            'cache-control': 'no-store',
          });
          res.end(`Internal error; quote the request id ${id} when reporting it\n`);
        });
      return true;
    }
    return false;
  }

  /** The host the client asked for, lower-cased (X-Forwarded-Host only from a trusted proxy). */
  requestHost(req: IncomingMessage): string {
    const forwarded = req.headers['x-forwarded-host'];
    const trusted = typeof forwarded === 'string' && this.trust(req.socket.remoteAddress ?? '');
    return (trusted ? forwarded.split(',')[0].trim() : (req.headers.host ?? '')).toLowerCase();
  }

  private logWhenDone(req: IncomingMessage, res: ServerResponse, id: string, url: string) {
    const start = performance.now();
    res.once('finish', () => {
      this.log.info(
        {
          reqId: id,
          ...requestLogFields(req.method ?? '', url, res.statusCode, performance.now() - start),
        },
        'request',
      );
    });
  }
}
