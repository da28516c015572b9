import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';

export { freePort } from '../src/lib/net.ts';

/** Waits until a spawned server answers /healthz (any status), failing if it exits first. */
export async function waitUntilUp(port: number, child: ChildProcess) {
  for (;;) {
    if (child.exitCode !== null) throw new Error('server exited during start');
    try { await fetch(`http://127.0.0.1:${port}/healthz`, { redirect: 'manual' }); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
}

/**
 * A scratch directory and a durable PostgreSQL for one benchmark run: `DATABASE_URL` when set,
 * otherwise an embedded server in the scratch directory with default durability (fsync and
 * synchronous_commit on, unlike the test suite's). `close()` stops it and removes the directory.
 */
export async function benchDatabase(name: string, log?: (line: string) => void) {
  const dir = mkdtempSync(path.join(tmpdir(), `apprefer-${name}-`));
  chmodSync(dir, 0o755); // the embedded server may run as the unprivileged `postgres` user
  let url = process.env.DATABASE_URL;
  let pgDir: string | null = null;
  let stop = async () => {};
  if (!url) {
    pgDir = path.join(dir, 'pg');
    log?.('starting an embedded PostgreSQL');
    const pg = await startEmbeddedPostgres(pgDir);
    url = pg.url;
    stop = pg.stop;
  }
  return {
    dir, url, pgDir,
    close: async () => { await stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}
