import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../src/lib/net.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestDatabase, startTestServer, type TestServer } from './helpers.ts';

const BIN = path.resolve('bin/apprefer.js');

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH!, LOG_LEVEL: 'warn', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('apprefer CLI with DATABASE_URL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestServer({}, db);
    env = {
      DATABASE_URL: db.url,
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'apprefer-cli-')),
      SECRET_KEY: 'cli-test-secret-0123456789abcdef0123',
    };
  });
  afterAll(async () => {
    await t?.close();
    rmSync(env.DATA_DIR, { recursive: true, force: true });
  });

  it('setup, api-keys create --json, list and revoke work against the same database as the server', async () => {
    const setup = await run(
      [
        'setup',
        '--org',
        'Acme CLI',
        '--email',
        'ops@example.com',
        '--password',
        'a long password',
        '--json',
      ],
      env,
    );
    expect(setup.stderr).toBe('');
    expect(setup.code).toBe(0);
    const org = JSON.parse(setup.stdout).organization;
    expect(org.name).toBe('Acme CLI');

    const created = await run(
      [
        'api-keys',
        'create',
        '--org',
        'Acme CLI',
        '--name',
        'ci',
        '--permission',
        'read_only',
        '--json',
      ],
      env,
    );
    expect(created.code).toBe(0);
    const lines = created.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const key = JSON.parse(lines[0]);
    expect(Object.keys(key).sort()).toEqual(['id', 'key', 'permission']);
    expect(key.permission).toBe('read_only');

    const me = await api(t, 'GET', '/api/v1/me', { auth: key.key });
    expect(me.status).toBe(200);
    expect(me.body.data.organization.id).toBe(org.id);
    expect(me.body.data.permission).toBe('read_only');

    const listed = await run(['api-keys', 'list', '--org', org.id, '--json'], env);
    expect(JSON.parse(listed.stdout).map((k: { id: string }) => k.id)).toEqual([key.id]);

    const revoked = await run(['api-keys', 'revoke', key.id, '--org', org.id], env);
    expect(revoked.code).toBe(0);
    expect((await api(t, 'GET', '/api/v1/me', { auth: key.key })).status).toBe(401);
  });

  it('errors go to stderr with a non-zero exit', async () => {
    const noOrg = await run(['api-keys', 'create', '--name', 'x', '--permission', 'full'], env);
    expect(noOrg.code).not.toBe(0);
    expect(noOrg.stderr).toContain('--org');
    expect(noOrg.stdout).toBe('');
    const badPerm = await run(
      ['api-keys', 'create', '--org', 'Acme CLI', '--name', 'x', '--permission', 'root'],
      env,
    );
    expect(badPerm.code).not.toBe(0);
    expect(badPerm.stderr).toContain('--permission');
    const unknownOrg = await run(['api-keys', 'list', '--org', 'Nope Inc'], env);
    expect(unknownOrg.code).not.toBe(0);
    expect(unknownOrg.stderr).toContain('Nope Inc');
    const badEnv = await run(['migrate'], { ...env, PORT: 'eighty' });
    expect(badEnv.code).not.toBe(0);
    expect(badEnv.stderr).toContain('PORT');
  });
});

describe('apprefer with the embedded database', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'apprefer-embedded-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('migrate works with no server running; setup works while `serve` runs on the same DATA_DIR', async () => {
    const env = { DATA_DIR: dataDir };
    const migrated = await run(['migrate'], env);
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);

    const port = await freePort();
    const server = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        PATH: process.env.PATH!,
        DATA_DIR: dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      },
    });
    let serverErr = '';
    server.stderr.on('data', (d) => (serverErr += d));
    const exited = new Promise<number | null>((resolve) =>
      server.on('exit', (code) => resolve(code)),
    );
    try {
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 100; i++) {
        const ok = await fetch(`${base}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const setup = await run(
        ['setup', '--org', 'Embedded', '--email', 'e@example.com', '--password', 'a long password'],
        env,
      );
      expect(setup.stderr).toBe('');
      expect(setup.code).toBe(0);
      const login = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'e@example.com', password: 'a long password' }),
      });
      expect(login.status).toBe(200);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(serverErr).toBe('');
  });
});
