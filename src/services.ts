import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Sql } from './db/client.ts';
import type { CursorCodec } from './http/cursor.ts';

/** What every module gets: configuration, the database, the cursor codec and the logger. */
export type Services = {
  config: Config;
  sql: Sql;
  /** The URL `sql` connects to, for a module that needs a connection of its own (the click writer's COPY). */
  databaseUrl: string;
  cursors: CursorCodec;
  log: Logger;
};
