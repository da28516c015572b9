/**
 * Fake Meta, Google (Ads + OAuth) and TikTok servers on 127.0.0.1 speaking the formats of
 * docs/spec/external-apis.md §9. Each records every request (method, path, headers, parsed body)
 * and answers from a script (`next`), else its default success. A scripted reply may delay past
 * the client timeout or reset the connection.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';

export type Received = {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
  raw: string;
};
export type Reply = {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  reset?: boolean;
  /** Never answer (the request stays in flight until the client goes away). */
  hang?: boolean;
};
/** What the fake answers when nothing is scripted: a function of the request. */
export type Responder = (r: Received) => Reply;

export type Fake = {
  url: string;
  received: Received[];
  /** Requests whose answer was written to a live connection, with the status sent. */
  answered: (Received & { status: number })[];
  /** Replies for the next matching requests, in order (matched by path substring). */
  script: (pathPart: string, ...replies: Reply[]) => void;
  close: () => Promise<void>;
};

export async function startFake(defaultReply: Responder): Promise<Fake> {
  const received: Received[] = [];
  const answered: Fake['answered'] = [];
  const scripts: { part: string; reply: Reply }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw;
      try {
        body = req.headers['content-type']?.includes('json')
          ? JSON.parse(raw)
          : Object.fromEntries(new URLSearchParams(raw));
      } catch {
        /* raw */
      }
      const r: Received = {
        method: req.method!,
        path: req.url!,
        headers: req.headers,
        body,
        raw,
      };
      received.push(r);
      const i = scripts.findIndex((s) => r.path.includes(s.part));
      const reply = i >= 0 ? scripts.splice(i, 1)[0].reply : defaultReply(r);
      const send = () => {
        if (reply.reset) {
          req.socket.destroy();
          return;
        }
        if (res.destroyed || req.socket.destroyed) return;
        answered.push({ ...r, status: reply.status ?? 200 });
        res.writeHead(reply.status ?? 200, {
          'content-type': 'application/json',
          ...reply.headers,
        });
        res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      };
      if (reply.hang) return;
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    received,
    answered,
    script: (part, ...replies) => {
      for (const reply of replies) scripts.push({ part, reply });
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Meta: POST /{ver}/{id}/events → events_received; GET /{ver}/{id} → the dataset. */
export const metaFake = () =>
  startFake((r) => {
    if (r.method === 'GET')
      return {
        body: {
          id: r.path.split('/')[2]?.split('?')[0],
          name: 'FitTrack dataset',
          is_consolidated_container: true,
        },
      };
    return {
      body: { events_received: r.body?.data?.length ?? 0, messages: [], fbtrace_id: 'FAKE' },
    };
  });

/** TikTok: POST /event/track/ → code 0 (checks Access-Token and string event_id like the real one). */
export const tiktokFake = () =>
  startFake((r) => {
    if (!r.headers['access-token'])
      return { body: { code: 40104, message: 'Access token is empty', request_id: 'FAKE' } };
    if ((r.body?.data ?? []).some((e: { event_id?: unknown }) => typeof e.event_id !== 'string'))
      return {
        body: {
          code: 40002,
          message: 'Invalid value for event_id: not a valid string.',
          request_id: 'FAKE',
        },
      };
    return { body: { code: 0, message: 'OK', request_id: 'FAKE', data: {} } };
  });

/** Google Ads + OAuth in one server: POST /token, …:uploadClickConversions, customers:listAccessibleCustomers. */
export const googleFake = () => {
  let tokens = 0;
  return startFake((r) => {
    if (r.path === '/token') {
      tokens += 1;
      return {
        body: { access_token: `fake-${tokens}`, expires_in: 3599, token_type: 'Bearer' },
      };
    }
    if (!r.headers['developer-token'])
      return {
        status: 400,
        body: {
          error: { code: 400, message: 'developer-token missing', status: 'INVALID_ARGUMENT' },
        },
      };
    if (r.path.includes('listAccessibleCustomers'))
      return { body: { resourceNames: ['customers/1234567890'] } };
    if (r.path.includes(':uploadClickConversions')) {
      if (r.body?.validateOnly) return { body: {} };
      return {
        body: {
          results: (r.body?.conversions ?? []).map((c: Record<string, unknown>) => ({
            gclid: c.gclid,
            conversionAction: c.conversionAction,
            conversionDateTime: c.conversionDateTime,
          })),
          jobId: '1',
        },
      };
    }
    return { status: 404, body: { error: { code: 404, message: 'not found' } } };
  });
};

/** A Google request-level error body (§3.2). */
export const googleError = (
  status: number,
  statusText: string,
  errorCode: Record<string, string>,
  extra: object[] = [],
) => ({
  status,
  body: {
    error: {
      code: status,
      message: 'fake error',
      status: statusText,
      details: [
        {
          '@type': 'type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure',
          errors: [{ errorCode, message: 'fake' }],
          requestId: 'FAKE',
        },
        ...extra,
      ],
    },
  },
});
