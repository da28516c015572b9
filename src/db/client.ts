import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;

/** One connection pool per process. Timestamps come back as Date, bigint/numeric as strings. */
export function createSql(url: string, opts: { max?: number } = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 20,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 60,
    connection: { application_name: 'apprefer' },
  }) as Sql;
}
