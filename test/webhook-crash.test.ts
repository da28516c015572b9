/**
 * A RevenueCat storm against `apprefer serve`, killed with SIGKILL while deliveries are in flight:
 * every delivery answered 200 before the kill is stored (event and dedup record); after the
 * restart the sender's retries of the rest are recorded, and nothing twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../src/lib/net.ts';
import { createSdkApp } from '../src/modules/tracking/test-support.ts';
import { RC_TRIAL_CONVERTED } from '../src/modules/webhooks/fixtures.ts';
import { api, createTestDatabase, type TestServer } from './helpers.ts';
import { serveProcess, untilReady } from './serve-process.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(path.join(tmpdir(), 'apprefer-webhook-crash-'));
});
afterAll(async () => {
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

const TOTAL = 400;

it('every webhook answered 200 survives a kill -9; retries after the restart are recorded once', async () => {
  const port = await freePort();
  const env = { DATABASE_URL: db.url, DATA_DIR: dataDir };
  let server = serveProcess(port, env);
  await untilReady(port);
  const t = { url: `http://127.0.0.1:${port}`, sql: db.sql } as TestServer;
  const app = await createSdkApp(t);
  const on = await api(t, 'PATCH', `/api/v1/apps/${app.appId}/integrations/revenuecat`, {
    auth: app.apiKey,
    body: { enabled: true },
  });
  const secret = on.body.data.authorization.value as string;
  const bodies = Array.from({ length: TOTAL }, (_, i) => {
    const b = JSON.parse(RC_TRIAL_CONVERTED);
    b.event.id = `storm-${i}`;
    b.event.subscriber_attributes.appreferId.value = `storm-device-${i % 50}`;
    return JSON.stringify(b);
  });
  const send = (i: number) =>
    fetch(`${t.url}/api/webhook/revenuecat/${app.appId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: secret },
      body: bodies[i],
    }).then(
      (r) => r.status,
      () => 0,
    );

  // 16 senders at once; the server is killed right after the 100th 200.
  const acked: number[] = [];
  let next = 0;
  let killed = false;
  const sender = async () => {
    while (next < TOTAL && !killed) {
      const i = next++;
      const status = await send(i);
      if (status === 200 && !killed) {
        acked.push(i);
        if (acked.length === 100) {
          killed = true;
          server.child.kill('SIGKILL');
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, sender));
  await server.exited;
  expect(acked.length).toBe(100);

  const stored = new Set(
    (
      await db.sql<{ external_id: string }[]>`
        select w.external_id from webhook_events w join events e on e.id = w.event_id
        where w.app_id = ${app.appId}`
    ).map((r) => r.external_id),
  );
  expect(acked.filter((i) => !stored.has(`storm-${i}`))).toEqual([]);

  // RevenueCat retries whatever did not get a 200: here, everything again.
  server = serveProcess(port, env);
  try {
    await untilReady(port);
    const answers = [];
    for (let i = 0; i < TOTAL; i += 16)
      answers.push(...(await Promise.all(bodies.slice(i, i + 16).map((_, j) => send(i + j)))));
    expect(answers.every((s) => s === 200)).toBe(true);
    const [{ n, distinct }] = await db.sql`
      select count(*)::int as n, count(distinct event_id)::int as distinct
      from events where app_id = ${app.appId} and source = 'revenuecat'`;
    expect({ n, distinct }).toEqual({ n: TOTAL, distinct: TOTAL });
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}, 300_000);
