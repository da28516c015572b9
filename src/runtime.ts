import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';
import { createSql, type Sql } from './db/client.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { migrate } from './db/migrate.ts';
import { createCursorCodec } from './http/cursor.ts';
import { JOBS } from './jobs.ts';
import { buildServer } from './http/server.ts';
import { MODULES } from './modules/index.ts';
import { startJobRunner } from './queue/runner.ts';
import type { Services } from './services.ts';

export function createLogger(config: Config, destination: 1 | 2 = 1): Logger {
  return pino({
    level: config.logLevel,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // Defence in depth: nothing should log these, and if something does they are masked.
    redact: { paths: ['*.authorization', '*.cookie', '*.password', '*.key', '*.token', '*["x-apprefer-key"]', 'headers'], censor: '[redacted]' },
  }, pino.destination({ dest: destination, sync: false }));
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL under DATA_DIR (started or joined). */
export async function openDatabase(config: Config, log: Logger): Promise<{ sql: Sql; url: string; close: () => Promise<void> }> {
  let url = config.databaseUrl;
  let stopEmbedded = async () => {};
  if (!url) {
    const embedded = await startEmbeddedPostgres(config.dataDir, {
      port: config.embeddedPgPort,
      log: (line) => log.debug({ postgres: line.trim() }, 'embedded postgres'),
    });
    url = embedded.url;
    stopEmbedded = embedded.stop;
    log.info({ dataDir: config.dataDir, joined: !embedded.startedHere }, 'embedded PostgreSQL ready');
  }
  const sql = createSql(url);
  return { sql, url, close: async () => { await sql.end({ timeout: 5 }); await stopEmbedded(); } };
}

/** `databaseUrl`: where `sql` connects; DATABASE_URL unless the server started an embedded PostgreSQL. */
export function createServices(config: Config, sql: Sql, log: Logger, databaseUrl = config.databaseUrl): Services {
  if (!databaseUrl) throw new Error('createServices: no database URL');
  return { config, sql, databaseUrl, log, cursors: createCursorCodec(config.secretKey) };
}

/** `apprefer serve`: database, migrations, HTTP server, job runner; a clean shutdown on SIGTERM / SIGINT. */
export async function serve(config: Config) {
  const log = createLogger(config);
  const db = await openDatabase(config, log);
  const applied = await migrate(db.sql, db.url);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const services = createServices(config, db.sql, log, db.url);
  const app = await buildServer(services, MODULES);
  const jobs = await startJobRunner(services, JOBS);
  await app.listen({ port: config.port, host: config.host });
  log.info({ url: config.publicUrl, trackingUrl: config.trackingUrl }, 'server listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    try {
      // Modules flush their writers in onClose hooks; running jobs finish (bounded), queued ones stay queued.
      await Promise.all([app.close(), jobs.stop()]);
      await db.close();
    } finally {
      log.flush();
      process.exit(0);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  return app;
}
