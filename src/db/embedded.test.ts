/** The embedded PostgreSQL's connection: a Unix socket where the path allows one, TCP otherwise. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSql } from './client.ts';
import { startEmbeddedPostgres } from './embedded.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** How the server's own connection arrives: a Unix socket has no client address. */
async function connectionKind(url: string) {
  const sql = createSql(url, { max: 1 });
  try {
    const [row] = await sql<{ socket: boolean }[]>`
      select client_addr is null as socket from pg_stat_activity where pid = pg_backend_pid()`;
    return row.socket ? 'socket' : 'tcp';
  } finally {
    await sql.end();
  }
}

describe('the embedded PostgreSQL', () => {
  it('is reached over its Unix socket, or over TCP when DATA_DIR is too deep for a socket path', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'apprefer-socket-'));
    dirs.push(base);
    chmodSync(base, 0o755); // as root, PostgreSQL runs as the `postgres` user
    const deep = path.join(base, 'd'.repeat(90)); // DATA_DIR/postgres/.s.PGSQL.<port> > 103 bytes
    mkdirSync(deep);
    for (const [dataDir, expected] of [
      [path.join(base, 'short'), 'socket'],
      [deep, 'tcp'],
    ] as const) {
      const pg = await startEmbeddedPostgres(dataDir);
      try {
        expect(await connectionKind(pg.url)).toBe(expected);
      } finally {
        await pg.stop();
      }
    }
  }, 120_000);
});
