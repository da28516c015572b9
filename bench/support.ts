import type autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Sql } from '../src/db/client.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createOrganizationWithOwner } from '../src/modules/auth/accounts.ts';
import { freePort } from '../src/lib/net.ts';

export { freePort };

/** Waits until a spawned server answers /healthz (any status), failing if it exits first. */
export async function waitUntilUp(port: number, child: ChildProcess) {
  for (;;) {
    if (child.exitCode !== null) throw new Error('server exited during start');
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`, { redirect: 'manual' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * A scratch directory and a durable PostgreSQL for one benchmark run: `DATABASE_URL` when set,
 * otherwise an embedded server in the scratch directory with default durability (fsync and
 * synchronous_commit on, unlike the test suite's). `close()` stops it and removes the directory.
 */
export async function benchDatabase(
  name: string,
  log?: (line: string) => void,
  opts: { extraFlags?: string[] } = {},
) {
  const dir = mkdtempSync(path.join(tmpdir(), `apprefer-${name}-`));
  chmodSync(dir, 0o755); // the embedded server may run as the unprivileged `postgres` user
  let url = process.env.DATABASE_URL;
  let pgDir: string | null = null;
  let stop = async () => {};
  if (!url) {
    pgDir = path.join(dir, 'pg');
    log?.('starting an embedded PostgreSQL');
    const pg = await startEmbeddedPostgres(pgDir, { extraFlags: opts.extraFlags });
    url = pg.url;
    stop = pg.stop;
  }
  return {
    dir,
    url,
    pgDir,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A real `apprefer serve` process on a free port against `databaseUrl` (LOG_LEVEL=warn;
 * SERVER_NODE_ARGS, e.g. `--cpu-prof`, are passed to node). Resolves once it answers.
 */
export async function startServer(databaseUrl: string, dataDir: string) {
  const port = await freePort();
  const root = path.resolve(import.meta.dirname, '..');
  const child = spawn(
    process.execPath,
    [
      ...(process.env.SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      'bin/apprefer.js',
      'serve',
    ],
    {
      cwd: root,
      // SERVER_LOG=<file>: the server's log lines (LOG_LEVEL=warn) go there.
      stdio: [
        'ignore',
        process.env.SERVER_LOG ? openSync(process.env.SERVER_LOG, 'a') : 'ignore',
        'inherit',
      ],
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
      },
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await waitUntilUp(port, child);
  return { port, child, exited };
}

/**
 * CPU time of a measurement per process (each with its children: PostgreSQL's postmaster and
 * backends) and of this process, the load generator. Per request, on a shared machine a steadier
 * figure than requests per second: a neighbour's load slows a run down but moves what each
 * request costs much less; and the sum bounds the rate the machine's cores allow.
 *
 *   const read = cpuMeter({ server: pid })(); …run…; formatCpu(read(), requests)
 */
export function cpuMeter(pids: Record<string, number | null>) {
  const now = (): Record<string, number> => {
    const self = process.cpuUsage();
    return {
      ...Object.fromEntries(
        Object.entries(pids).map(([name, pid]) => [
          name,
          pid ? treeCpuSeconds(pid) * 1e6 : Number.NaN,
        ]),
      ),
      'load generator': self.user + self.system,
    };
  };
  /** Starts a measurement; the function it returns gives the µs each process used since. */
  return () => {
    const before = now();
    return () => {
      const after = now();
      return Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
    };
  };
}

/** µs per process divided by the requests answered: "CPU per request: server 131 µs, …". */
export const formatCpu = (us: Record<string, number>, requests: number) =>
  `CPU per request: ${Object.entries(us)
    .map(([name, total]) => `${name} ${Math.round(total / Math.max(1, requests))} µs`)
    .join(', ')}`;

/** The embedded PostgreSQL's postmaster (null with DATABASE_URL: that server is not the run's). */
export const postmasterPid = (pgDir: string | null) =>
  pgDir
    ? Number(readFileSync(path.join(pgDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0])
    : null;

/** CPU seconds used so far by a process, its living children and its reaped ones (Linux /proc; 0 elsewhere). */
function treeCpuSeconds(pid: number): number {
  const stat = (p: number | string) => {
    try {
      const text = readFileSync(`/proc/${p}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state, ppid, … utime is the 14th field.
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      return {
        ppid: Number(f[1]),
        own: Number(f[11]) + Number(f[12]),
        reaped: Number(f[13]) + Number(f[14]),
      };
    } catch {
      return null;
    }
  };
  const root = stat(pid);
  if (!root) return 0;
  let ticks = root.own + root.reaped;
  for (const entry of existsSync('/proc') ? readdirSync('/proc') : []) {
    if (!/^\d+$/.test(entry)) continue;
    const child = stat(entry);
    if (child?.ppid === pid) ticks += child.own;
  }
  return ticks / 100; // USER_HZ
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One server's alternating autocannon rounds as a result line: medians, each round, failures. */
export function roundsRow(name: string, rs: autocannon.Result[]) {
  const rps = median(rs.map((r) => r.requests.average));
  const bad = rs.reduce((k, r) => k + r.non2xx + r.errors + r.timeouts, 0);
  return {
    rps,
    line: `${name.padEnd(34)} ${String(Math.round(rps)).padStart(7)} req/s   p50 ${median(rs.map((r) => r.latency.p50))} ms   p99 ${median(rs.map((r) => r.latency.p99))} ms   (rounds: ${rs.map((r) => Math.round(r.requests.average)).join(', ')}; not 200: ${bad})`,
  };
}

/**
 * `POST /api/track/event` as the SDK sends it, the body built per request from its number
 * `n` (1, 2, …) so every body can differ (no dedup shortcut); `onResponse` sees each status.
 */
export function sdkEventRequest(
  key: string,
  body: (n: number) => object,
  onResponse?: (status: number) => void,
): autocannon.Request {
  let n = 0;
  return {
    method: 'POST',
    path: '/api/track/event',
    onResponse,
    setupRequest: (req) => ({
      ...req,
      headers: {
        ...req.headers,
        'content-type': 'application/json; charset=utf-8',
        'x-apprefer-key': key,
        'x-sdk-version': '0.4.0',
      },
      body: JSON.stringify(body(++n)),
    }),
  };
}

/**
 * Sequential scans of `tables` from now on: a plan that scans a growing table per request or per
 * batch makes a hot path slow down as the table grows. `report()` prints what happened since.
 */
export async function countSeqScans(sql: Sql, tables: string[]) {
  const read = () =>
    sql<{ relname: string; seq_scan: string; seq_tup_read: string }[]>`
      select relname, seq_scan, seq_tup_read from pg_stat_user_tables where relname = any(${tables})`;
  const before = await read();
  return async () => {
    await new Promise((r) => setTimeout(r, 600)); // statistics are reported with a short delay
    const after = await read();
    const line = tables
      .map((tbl) => {
        const b = before.find((x) => x.relname === tbl);
        const a = after.find((x) => x.relname === tbl);
        return `${tbl} ${Number(a?.seq_scan ?? 0) - Number(b?.seq_scan ?? 0)} (${Number(a?.seq_tup_read ?? 0) - Number(b?.seq_tup_read ?? 0)} rows)`;
      })
      .join(', ');
    return `sequential scans in the run   ${line}`;
  };
}

/**
 * Migrates the benchmark's database and creates an organization with an owner to put apps in;
 * returns its id. Names are unique per call, so runs can share a DATABASE_URL.
 */
export async function benchOrganization(sql: Sql, databaseUrl: string): Promise<string> {
  await migrate(sql, databaseUrl);
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const { organization } = await createOrganizationWithOwner(sql, {
    org: `Bench ${tag}`,
    email: `bench${tag}@example.com`,
    password: 'correct horse battery',
  });
  return organization.id;
}
