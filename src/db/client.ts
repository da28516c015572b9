import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;

/** Connections of this process are named `apprefer/<pid>` (the embedded database counts its users by it). */
export const APPLICATION_NAME = 'apprefer';
export const processApplicationName = () => `${APPLICATION_NAME}/${process.pid}`;

/** One connection pool per process. Timestamps come back as Date, bigint/numeric as strings. */
export function createSql(
  url: string,
  opts: {
    max?: number;
    /**
     * A pool whose statements all look rows up by key (the SDK's hot path): it never plans a
     * sequential scan. Statements are prepared, and PostgreSQL keeps a generic plan made while a
     * table was small — a scan that grows with every row (measured: 36 M rows read by 7 000 scans
     * of `attributions` in one 15 s configure benchmark on a fresh database). And it always uses
     * the generic plan: PostgreSQL otherwise kept planning configure's statements anew on every
     * execution (its cost model prefers custom plans for them), which cost more than running them
     * (configure's candidate clicks: 650 → 400 µs per round trip, `bench/ingest/plans.ts`).
     */
    keyLookups?: boolean;
    /** Seconds to wait for a connection (default 5). */
    connectTimeout?: number;
  } = {},
): Sql {
  const socket = unixSocket(url);
  return postgres(socket?.url ?? url, {
    ...(socket ? { host: socket.dir } : {}),
    max: opts.max ?? 20,
    onnotice: () => {},
    connect_timeout: opts.connectTimeout ?? 5,
    idle_timeout: 60,
    // postgres.js waits up to 20 s between reconnects, counting failures across the whole pool: a
    // database back after a restart stayed unused that long. At most 2 s here (with jitter).
    backoff: (failures: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** failures, 2),
    connection: {
      application_name: processApplicationName(),
      ...(opts.keyLookups ? { enable_seqscan: 'off', plan_cache_mode: 'force_generic_plan' } : {}),
    },
  }) as Sql;
}

/**
 * A Unix-socket directory named in the URL the libpq way, `postgres://…@localhost:5432/db?host=/dir`
 * (node-postgres, used by the job runner and migrations, reads it the same); postgres.js takes the
 * directory as an option instead, and would send `host` to the server as a setting.
 */
function unixSocket(url: string): { url: string; dir: string } | undefined {
  const u = new URL(url);
  const dir = u.searchParams.get('host');
  if (!dir?.startsWith('/')) return undefined;
  u.searchParams.delete('host');
  return { url: u.href, dir };
}
