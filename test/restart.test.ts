/**
 * `apprefer serve` killed with SIGKILL in the middle of a background job: after the restart the
 * job runs again at once (not after graphile-worker's four-hour lock expiry) and finishes the work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../src/lib/net.ts';
import {
  APPLE_ATTRIBUTED,
  APPLE_TOKEN,
  createSdkApp,
  startAppleFake,
  track,
} from '../src/modules/tracking/test-support.ts';
import { createTestDatabase, eventually, type TestServer } from './helpers.ts';
import { serveProcess, untilReady } from './serve-process.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let apple: Awaited<ReturnType<typeof startAppleFake>>;
let dataDir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  apple = await startAppleFake();
  dataDir = mkdtempSync(path.join(tmpdir(), 'apprefer-restart-'));
});
afterAll(async () => {
  await apple?.close();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The server against this file's database, once it answers /readyz. */
async function serve(port: number) {
  const served = serveProcess(port, {
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    SECRET_KEY: 'restart-test-secret-0123456789abcdef',
    APPLE_ADSERVICES_URL: apple.url,
  });
  await untilReady(port);
  return served;
}

it('a job running when the server is killed runs again right after the restart', async () => {
  const port = await freePort();
  const t = { url: `http://127.0.0.1:${port}`, sql: db.sql } as TestServer;
  let server = await serve(port);
  const app = await createSdkApp(t);
  // Apple hangs: the configure answers undetermined, and the background lookup is stuck mid-call.
  apple.state.fallback = { status: 200, body: APPLE_ATTRIBUTED, delayMs: 120_000 };
  const deviceId = 'restart-device-1';
  const r = await track(t, 'configure', app.live, {
    device_id: deviceId,
    asa_token: APPLE_TOKEN,
    device_info: { platform: 'ios', os_version: '17.5.1' },
  });
  expect(r.json).toMatchObject({ attribution: null });
  await eventually(async () => apple.received.length >= 2, 30_000); // the job's own call is in flight
  server.child.kill('SIGKILL');
  await server.exited;
  const [stuck] =
    await db.sql`select locked_by from graphile_worker.jobs where task_identifier = 'asa_resolve'`;
  expect(stuck.locked_by).not.toBeNull();

  apple.state.fallback = { status: 200, body: APPLE_ATTRIBUTED };
  server = await serve(port);
  try {
    const done = await eventually(async () => {
      const [a] =
        await db.sql`select status, match_type, network from attributions where device_id = ${deviceId}`;
      return a?.status === 'resolved' ? a : null;
    }, 30_000);
    expect(done).toMatchObject({ match_type: 'adservices', network: 'apple_search_ads' });
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}, 120_000);
