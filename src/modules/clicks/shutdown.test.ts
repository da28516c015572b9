import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../lib/net.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/helpers.ts';
import { createOrganizationWithOwner } from '../auth/accounts.ts';
import { createApp } from '../apps/queries.ts';
import { AppCreate } from '../apps/schemas.ts';
import { createLink } from '../links/queries.ts';
import { UA } from './ua.fixtures.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(path.join(tmpdir(), 'apprefer-shutdown-'));
});
afterAll(async () => {
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

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

describe('apprefer serve', () => {
  it('stores all of 2 000 concurrent clicks when stopped with SIGTERM right after answering them', async () => {
    const { organization } = await createOrganizationWithOwner(db.sql, {
      org: 'Shutdown',
      email: 'shutdown@example.com',
      password: 'correct horse battery',
    });
    const app = await createApp(
      db.sql,
      organization.id,
      AppCreate.parse({ name: 'FitTrack', android: { packageName: 'com.example.fittrack' } }),
    );
    await createLink(db.sql, app, { id: 'shutdown-link', network: 'meta' });

    const port = await freePort();
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
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    try {
      for (;;) {
        // until the server answers
        if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
        try {
          if ((await get(port, '/healthz', {})).status === 200) break;
        } catch {
          /* not listening yet */
        }
        await new Promise((r) => setTimeout(r, 50));
      }
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
});
