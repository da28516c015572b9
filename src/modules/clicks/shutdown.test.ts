import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../lib/net.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, eventually } from '../../../test/helpers.ts';
import { createSql } from '../../db/client.ts';
import { createOrganizationWithOwner } from '../auth/accounts.ts';
import { createApp } from '../apps/queries.ts';
import { AppCreate } from '../apps/schemas.ts';
import { createLink } from '../links/queries.ts';
import { UA } from './ua.fixtures.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
let app: Awaited<ReturnType<typeof createApp>>;
beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(path.join(tmpdir(), 'apprefer-shutdown-'));
  const { organization } = await createOrganizationWithOwner(db.sql, {
    org: 'Shutdown',
    email: 'shutdown@example.com',
    password: 'correct horse battery',
  });
  app = await createApp(
    db.sql,
    organization.id,
    AppCreate.parse({ name: 'FitTrack', android: { packageName: 'com.example.fittrack' } }),
  );
});
afterAll(async () => {
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const count = async (linkId: string) =>
  Number((await db.sql`select count(*)::int as n from clicks where link_id = ${linkId}`)[0].n);

function get(port: number, p: string, headers: Record<string, string>, agent?: Agent) {
  return new Promise<{ status: number; location?: string }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: p, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location }));
    })
      .on('error', reject)
      .end();
  });
}

/** `apprefer serve` on DATABASE_URL and this file's DATA_DIR, once it answers /healthz. */
async function serve(port: number) {
  const child = spawn(process.execPath, ['bin/apprefer.js', 'serve'], {
    cwd: path.resolve(import.meta.dirname, '../../..'),
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    try {
      if ((await get(port, '/healthz', {})).status === 200) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, exited };
}

describe('apprefer serve', () => {
  it('stores all of 2 000 concurrent clicks when stopped with SIGTERM right after answering them', async () => {
    await createLink(db.sql, app, { id: 'shutdown-link', network: 'meta' });

    const port = await freePort();
    const { child, exited } = await serve(port);
    try {
      const agent = new Agent({ keepAlive: true, maxSockets: 500 });
      const responses = await Promise.all(
        Array.from({ length: 2_000 }, (_, i) =>
          // Distinct client IPs (X-Forwarded-For from the trusted local proxy) so none is a rapid repeat.
          get(
            port,
            `/api/c/shutdown-link?fbclid=f${i}&n=${i}`,
            {
              'user-agent': UA.androidChrome,
              'x-forwarded-for': `198.51.${Math.floor(i / 250)}.${i % 250}`,
            },
            agent,
          ),
        ),
      );
      child.kill('SIGTERM');
      agent.destroy();
      expect(await exited).toBe(0);

      expect(responses.every((r) => r.status === 302)).toBe(true);
      const answered = responses.map(
        (r) => /ar_click_id%3D(arc_[A-Za-z0-9]{20})/.exec(r.location!)![1],
      );
      const stored = await db.sql<
        { id: string; is_bot: boolean }[]
      >`select id, is_bot from clicks where link_id = 'shutdown-link'`;
      expect(stored).toHaveLength(2_000);
      expect(new Set(stored.map((r) => r.id))).toEqual(new Set(answered));
      expect(stored.every((r) => !r.is_bot)).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('during a database outage answers clicks, stops at once on SIGTERM, and the next start stores every answered click', async () => {
    await createLink(db.sql, app, { id: 'outage-link', network: 'meta' });
    const port = await freePort();
    let { child, exited } = await serve(port);
    const click = (i: number) =>
      get(port, `/api/c/outage-link?fbclid=o${i}`, {
        'user-agent': UA.androidChrome,
        'x-forwarded-for': `198.51.100.${i % 250}`,
      });
    const answered: string[] = [];
    const idOf = (r: { location?: string }) =>
      /ar_click_id%3D(arc_[A-Za-z0-9]{20})/.exec(r.location!)![1];
    // The outage: nobody may connect to the app's database, and its connections are cut.
    const name = new URL(db.url).pathname.slice(1);
    const admin = createSql(Object.assign(new URL(db.url), { pathname: '/postgres' }).href, {
      max: 1,
    });
    try {
      answered.push(idOf(await click(0))); // the link is cached from now on
      await admin.unsafe(`alter database "${name}" with allow_connections false`);
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
      const during = await Promise.all(Array.from({ length: 200 }, (_, i) => click(i + 1)));
      expect(during.map((r) => r.status)).toEqual(Array(200).fill(302));
      answered.push(...during.map(idOf));
      child.kill('SIGTERM');
      // A shutdown that waited for the database would never end: the outage lasts until after it.
      expect(await exited).toBe(0);
    } finally {
      await admin.unsafe(`alter database "${name}" with allow_connections true`);
      await admin.end();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // Only the click answered before the outage may have been written (its batch can leave before
    // the connections are cut); none of those answered during it.
    const stored = await db.sql<
      { id: string }[]
    >`select id from clicks where link_id = 'outage-link'`;
    expect(stored.map((r) => r.id).filter((id) => id !== answered[0])).toEqual([]);

    ({ child, exited } = await serve(port));
    try {
      await eventually(async () => (await count('outage-link')) === answered.length, 30_000);
      const stored = await db.sql`select id from clicks where link_id = 'outage-link'`;
      expect(new Set(stored.map((r) => r.id))).toEqual(new Set(answered));
      expect(readdirSync(path.join(dataDir, 'clicks-spill'))).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 120_000);
});
