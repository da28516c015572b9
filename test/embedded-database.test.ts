/**
 * `npm start` on the embedded database, under the mistakes operators make: a busy port, a second
 * server on the same DATA_DIR, a server killed with SIGKILL, and PostgreSQL itself killed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql } from '../src/db/client.ts';
import { freePort } from '../src/lib/net.ts';
import { eventually } from './helpers.ts';
import { serveProcess } from './serve-process.ts';

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'apprefer-embedded-db-'));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `apprefer serve` on the embedded database in dataDir (no DATABASE_URL). */
const start = (port: number) => ({
  port,
  ...serveProcess(port, {
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    SECRET_KEY: 'embedded-test-secret-0123456789abcdef',
  }),
});

const ready = (port: number) =>
  fetch(`http://127.0.0.1:${port}/readyz`).then(
    (r) => r.status,
    () => 0,
  );
const startReady = async () => {
  const s = start(await freePort());
  await eventually(async () => (await ready(s.port)) === 200, 60_000);
  return s;
};
const postmasterPid = () => {
  const file = path.join(dataDir, 'postgres', 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : null;
};
/** A running process (a zombie, exited but not yet reaped by its new parent, is not). */
const alive = (pid: number | null) => {
  try {
    return pid !== null && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('the embedded database', () => {
  it('a busy port: the second server says so and exits, leaving no PostgreSQL behind', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => busy.once('listening', r));
    try {
      const s = start((busy.address() as { port: number }).port);
      expect(await s.exited).not.toBe(0);
      expect(s.output()).toContain('already in use');
      expect(alive(postmasterPid())).toBe(false);
    } finally {
      busy.close();
    }
  }, 90_000);

  it('two servers share it: the second keeps working when the first stops, and the last one stops PostgreSQL', async () => {
    const a = await startReady();
    const b = await startReady();
    expect(b.output()).toContain('"joined":true');
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(a.output()).toContain('embedded PostgreSQL left running');
    expect(await ready(b.port)).toBe(200);
    const setup = await fetch(`http://127.0.0.1:${b.port}/api/v1/auth/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(setup.status).toBe(400); // answered from the database's state, not a 500
    const pid = postmasterPid();
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(alive(pid)).toBe(false);
  }, 120_000);

  it('the server talks to PostgreSQL over its Unix socket, not loopback TCP', async () => {
    const s = await startReady();
    const { port, password } = JSON.parse(
      readFileSync(path.join(dataDir, 'postgres.json'), 'utf8'),
    );
    const probe = createSql(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, {
      max: 1,
    });
    try {
      // A Unix-socket connection has no client address.
      const [counts] = await probe<{ socket: number; tcp: number }[]>`
        select count(*) filter (where client_addr is null)::int as socket,
               count(*) filter (where client_addr is not null)::int as tcp
        from pg_stat_activity where application_name = ${`apprefer/${s.child.pid}`}`;
      expect(counts.socket).toBeGreaterThan(0);
      expect(counts.tcp).toBe(0);
    } finally {
      await probe.end();
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
    }
  }, 120_000);

  it('a server killed with SIGKILL leaves PostgreSQL running; the next server takes it over and stops it', async () => {
    const a = await startReady();
    const pid = postmasterPid();
    a.child.kill('SIGKILL');
    await a.exited;
    expect(alive(pid)).toBe(true);
    const b = await startReady();
    expect(postmasterPid()).toBe(pid);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(alive(pid)).toBe(false);
  }, 120_000);

  it('PostgreSQL killed under a running server: /readyz says so, and the server starts it again', async () => {
    const a = await startReady();
    try {
      const pid = postmasterPid()!;
      process.kill(pid, 'SIGKILL');
      try {
        await eventually(async () => (await ready(a.port)) === 503, 30_000);
        await eventually(async () => (await ready(a.port)) === 200, 60_000);
      } catch (err) {
        // What the server said is the diagnosis.
        throw new Error(`${(err as Error).message}; server output:\n${a.output().slice(-6_000)}`);
      }
      expect(postmasterPid()).not.toBe(pid);
      expect(a.output()).toContain('started it again');
    } finally {
      a.child.kill('SIGTERM');
      await a.exited;
    }
  }, 120_000);
});
