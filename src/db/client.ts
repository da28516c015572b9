import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;

/** Connections of this process are named `apprefer/<pid>` (the embedded database counts its users by it). */
export const APPLICATION_NAME = 'apprefer';
export const processApplicationName = () => `${APPLICATION_NAME}/${process.pid}`;

/** One connection pool per process. Timestamps come back as Date, bigint/numeric as strings. */
export function createSql(url: string, opts: { max?: number } = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 20,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 60,
    connection: { application_name: processApplicationName() },
  }) as Sql;
}
