import pino, { type Logger } from 'pino';
import { ConfigError, type Config } from './config.ts';
import { createSql, type Sql } from './db/client.ts';
import { isTransient } from './db/errors.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { migrate } from './db/migrate.ts';
import { ensureAppRole, grantToServerRole } from './db/app-role.ts';
import { createCursorCodec } from './http/cursor.ts';
import { JOBS } from './jobs.ts';
import { buildServer } from './http/server.ts';
import { ensureDashboardBuilt } from './modules/dashboard/build.ts';
import { MODULES } from './modules/index.ts';
import { startJobRunner, type JobRunner } from './queue/runner.ts';
import type { Services } from './services.ts';
import { anyOrganizationExists } from './modules/auth/accounts.ts';
import { setupToken } from './modules/auth/setup-token.ts';

export function createLogger(config: Config, destination: 1 | 2 = 1): Logger {
  return pino(
    {
      level: config.logLevel,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Defence in depth: nothing should log these, and if something does they are masked.
      redact: {
        paths: [
          '*.authorization',
          '*.cookie',
          '*.password',
          '*.key',
          '*.token',
          '*["x-apprefer-key"]',
          'headers',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: destination, sync: false }),
  );
}

/** How often a server on the embedded database checks that it is still running (and restarts it if not). */
const EMBEDDED_WATCH_MS = 5_000;
const EMBEDDED_PROBE_MS = 3_000;

export type Database = {
  sql: Sql;
  url: string;
  /** Ends the pool; stops the embedded PostgreSQL unless another process still uses it. */
  close: () => Promise<void>;
  /**
   * Embedded database only: checks every few seconds that PostgreSQL still runs and starts it again
   * if it was killed (the pools reconnect by themselves). Not a job: jobs need the database.
   */
  watch: () => () => void;
};

/** DATABASE_URL when set; otherwise the embedded PostgreSQL under DATA_DIR (started or joined). */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.databaseUrl) {
    const sql = createSql(config.databaseUrl);
    return {
      sql,
      url: config.databaseUrl,
      close: () => sql.end({ timeout: 5 }),
      watch: () => () => {},
    };
  }
  const embedded = await startEmbeddedPostgres(config.dataDir, {
    port: config.embeddedPgPort,
    log: (line) => log.debug({ postgres: line.trim() }, 'embedded postgres'),
  });
  log.info({ dataDir: config.dataDir, joined: !embedded.startedHere }, 'embedded PostgreSQL ready');
  const sql = createSql(embedded.url);
  return {
    sql,
    url: embedded.url,
    close: async () => {
      await sql.end({ timeout: 5 });
      const { stopped, otherProcesses } = await embedded.stopUnlessShared();
      if (!stopped)
        log.info(
          { otherProcesses },
          'embedded PostgreSQL left running for the other processes using it',
        );
    },
    watch: () => {
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        // Through the pool: its open connection is also how other processes see this one as a user.
        // Time-boxed: a probe stuck on a pool connection must not stop the watch for good.
        let timer: NodeJS.Timeout | undefined;
        Promise.race([
          sql`select 1`.then(() => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), EMBEDDED_PROBE_MS);
          }),
        ])
          .catch(() => false)
          .then((answered) => {
            clearTimeout(timer);
            return answered ? false : embedded.restartIfDown();
          })
          .then((restarted) => {
            if (restarted) log.warn('embedded PostgreSQL was not running; started it again');
          })
          .catch((err) =>
            log.error({ err }, 'embedded PostgreSQL is down and could not be started; retrying'),
          )
          .finally(() => {
            busy = false;
          });
      }, EMBEDDED_WATCH_MS);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

/** `databaseUrl`: where `sql` connects; DATABASE_URL unless the server started an embedded PostgreSQL. */
export function createServices(
  config: Config,
  sql: Sql,
  log: Logger,
  databaseUrl = config.databaseUrl,
): Services {
  if (!databaseUrl) throw new Error('createServices: no database URL');
  return { config, sql, databaseUrl, log, cursors: createCursorCodec(config.secretKey) };
}

/**
 * When the database goes away, postgres.js rejects every query of the broken connection, including
 * one nobody awaits any more (seen: an `EPIPE` from a write it had scheduled, when the embedded
 * PostgreSQL was killed under a starting server). That loss is handled where it matters (`/readyz`,
 * the restart of the embedded server, the writers' retries), so it is logged, not fatal. Any other
 * unhandled rejection still ends the process, as Node's default does.
 */
export function onUnhandledRejection(log: Logger) {
  return (reason: unknown) => {
    if (!isTransient(reason)) throw reason;
    log.warn({ err: reason }, 'a query nobody awaited failed with its database connection');
  };
}

/** `apprefer serve`: database, migrations, HTTP server, job runner; a clean shutdown on SIGTERM / SIGINT. */
export async function serve(config: Config) {
  const log = createLogger(config);
  const db = await openDatabase(config, log);
  let app: Awaited<ReturnType<typeof buildServer>> | null = null;
  let jobs: JobRunner | null = null;
  let appSql: Sql | null = null;
  let unwatch = () => {};

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    try {
      unwatch();
      // Modules flush their writers in onClose hooks; running jobs finish (bounded), queued ones stay queued.
      await Promise.all([app?.close(), jobs?.stop()]);
      await appSql?.end({ timeout: 5 });
      await db.close();
    } finally {
      log.flush();
      process.exit(0);
    }
  };
  // Installed before the port opens: a signal during start-up also stops cleanly.
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  const rejections = onUnhandledRejection(log);
  process.on('unhandledRejection', rejections);

  try {
    const applied = await migrateAsOwner(config, db, log);
    if (applied.length) log.info({ applied }, 'migrations applied');
    // A dashboard that cannot be built must not keep the API and the SDK endpoints down.
    await ensureDashboardBuilt(log).catch((err) =>
      log.error({ err }, 'dashboard build failed; serving the API without it'),
    );
    // Embedded database: migrations ran as its owner; the server works as a role that can only
    // read and write rows (db/app-role.ts). DATABASE_URL: the operator's role, as given (granted
    // those rights when DATABASE_OWNER_URL is set).
    let sql = db.sql;
    let url = db.url;
    if (!config.databaseUrl) {
      url = await ensureAppRole(db.sql, db.url, config);
      sql = appSql = createSql(url);
    }
    const services = createServices(config, sql, log, url);
    app = await buildServer(services, MODULES);
    jobs = await startJobRunner(services, JOBS);
    unwatch = db.watch();
    // Before listening: once it answers, nothing may fail the start (PostgreSQL killed a moment
    // after the first ready answer made this query end the process).
    const firstRun = !(await anyOrganizationExists(sql));
    await listen(app, config); // last: ready means fully started
    log.info({ url: config.publicUrl, trackingUrl: config.trackingUrl }, 'server listening');
    if (firstRun)
      log.warn(
        `first run: no organization yet. Create it with POST /api/v1/auth/setup and "setupToken": "${setupToken(config)}", or with \`apprefer setup\``,
      );
    if (process.stdout.isTTY) printNextStep(config, firstRun);
    return app;
  } catch (err) {
    // Nothing may keep the process alive after a failed start (the pool, the embedded database).
    process.removeAllListeners('SIGTERM').removeAllListeners('SIGINT');
    process.removeListener('unhandledRejection', rejections);
    unwatch();
    await Promise.all([app?.close().catch(() => {}), jobs?.stop().catch(() => {})]);
    await appSql?.end({ timeout: 5 }).catch(() => {});
    await db.close().catch(() => {});
    log.flush();
    throw err;
  }
}

/**
 * Migrations, as the schema's owner: the embedded superuser, DATABASE_OWNER_URL when set (which
 * then grants DATABASE_URL's role its rows), else DATABASE_URL's own role.
 */
export async function migrateAsOwner(
  config: Config,
  db: Pick<Database, 'sql' | 'url'>,
  log: Logger,
): Promise<string[]> {
  if (!config.databaseOwnerUrl) return migrate(db.sql, db.url);
  const owner = createSql(config.databaseOwnerUrl, { max: 2 });
  try {
    const applied = await migrate(owner, config.databaseOwnerUrl);
    const role = await grantToServerRole(owner, db.url);
    log.info({ role }, "migrated as the owner; the server works as DATABASE_URL's role");
    return applied;
  } finally {
    await owner.end({ timeout: 5 });
  }
}

async function listen(app: Awaited<ReturnType<typeof buildServer>>, config: Config) {
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE')
      throw new ConfigError(
        `port ${config.port} on ${config.host} is already in use (another server running?); set PORT to a free port`,
      );
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new ConfigError(
        `cannot listen on ${config.host}:${config.port} (${code}); check HOST and PORT`,
      );
    throw err;
  }
}

/** For a person at a terminal (`npm start`), in plain words beside the JSON logs: where to go next. */
function printNextStep(config: Config, firstRun: boolean) {
  const next = firstRun
    ? `Open ${config.publicUrl}/setup to create your organization and its owner, with the setup token ${setupToken(config)}\n  (or run: npx apprefer setup --org NAME --email E --password P).`
    : `Open ${config.publicUrl} and sign in.`;
  process.stdout.write(
    `\nAttribution server running.\n  ${next}\n  API reference: ${config.publicUrl}/api/v1/docs\n  SDK base URLs: API ${config.publicUrl}, tracking ${config.trackingUrl}\n\n`,
  );
}
