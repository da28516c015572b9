/**
 * `apprefer serve` killed with SIGKILL while conversion deliveries are in flight to Meta: after the
 * restart every delivery ends `delivered`, and the network acknowledged each forward id exactly
 * once (the request cut off by the kill got no answer; the resend carries the same event_id).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../src/lib/net.ts';
import { randomBase62 } from '../src/lib/crypto.ts';
import { createSdkApp, insertClick, track } from '../src/modules/tracking/test-support.ts';
import { startFake, type Fake } from '../src/modules/integrations/test-support.ts';
import { api, createTestDatabase, eventually, type TestServer } from './helpers.ts';
import { serveProcess, untilReady } from './serve-process.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let meta: Fake;
let dataDir: string;
const state = { hang: true };
beforeAll(async () => {
  db = await createTestDatabase();
  meta = await startFake((r) =>
    state.hang
      ? { hang: true }
      : { body: { events_received: r.body?.data?.length ?? 0, messages: [], fbtrace_id: 'FAKE' } },
  );
  dataDir = mkdtempSync(path.join(tmpdir(), 'apprefer-fwd-restart-'));
});
afterAll(async () => {
  await meta?.close();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The server against this file's database, once it answers /readyz. */
async function serve(port: number) {
  const served = serveProcess(port, {
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    SECRET_KEY: 'restart-test-secret-0123456789abcdef',
    META_GRAPH_URL: `${meta.url}v24.0/`,
    FORWARD_TIMEOUT_SECONDS: '120',
    FORWARD_RETRY_BASE_SECONDS: '1',
  });
  await untilReady(port);
  return served;
}

it('deliveries in flight when the server is killed are all delivered after the restart, each acknowledged once', async () => {
  const port = await freePort();
  const t = { url: `http://127.0.0.1:${port}`, sql: db.sql } as TestServer;
  let server = await serve(port);
  const app = await createSdkApp(t);
  const patch = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/meta`, {
    auth: app.apiKey,
    body: {
      enabled: true,
      settings: { datasetId: '1234567890', accessToken: 'EAAB-restart-token' },
    },
  });
  expect(patch.status).toBe(200);
  for (let i = 0; i < 10; i++) {
    const clickId = await insertClick(db.sql, {
      appId: app.appId,
      network: 'meta',
      fbclid: `IwAR-${randomBase62(12)}`,
    });
    const deviceId = `restart-${i}`;
    await track(t, 'configure', app.live, {
      device_id: deviceId,
      ar_click_id: clickId,
      device_info: { platform: 'android' },
    });
    await track(t, 'event', app.live, {
      device_id: deviceId,
      event_name: 'purchase',
      revenue: 1.5,
      currency: 'USD',
    });
  }
  await eventually(async () => meta.received.length >= 1, 30_000); // a batch is in flight, unanswered
  server.child.kill('SIGKILL');
  await server.exited;
  const [{ n }] =
    await db.sql`select count(*)::int as n from deliveries where status = 'delivered'`;
  expect(n).toBe(0);

  state.hang = false;
  server = await serve(port);
  try {
    const rows = await eventually(async () => {
      const ds = await db.sql<
        { forward_id: string; status: string }[]
      >`select forward_id, status from deliveries`;
      return ds.length === 20 && ds.every((d) => d.status === 'delivered') ? ds : null;
    }, 60_000);
    const acks = new Map<string, number>();
    for (const a of meta.answered.filter((x) => x.status === 200))
      for (const e of a.body.data as { event_id: string }[])
        acks.set(e.event_id, (acks.get(e.event_id) ?? 0) + 1);
    expect(Object.fromEntries(rows.map((r) => [r.forward_id, acks.get(r.forward_id)]))).toEqual(
      Object.fromEntries(rows.map((r) => [r.forward_id, 1])),
    );
    // The cut-off request's events were sent again with the same ids.
    const first = (meta.received[0].body.data as { event_id: string }[]).map((e) => e.event_id);
    const sends = (id: string) =>
      meta.received.filter((r) =>
        (r.body.data as { event_id: string }[]).some((e) => e.event_id === id),
      ).length;
    expect(first.map((id) => [sends(id), acks.get(id)])).toEqual(first.map(() => [2, 1]));
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}, 300_000);
