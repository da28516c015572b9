/** Helpers of tests that drive the job queue directly. */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Sql } from '../db/client.ts';
import { loadConfig } from '../config.ts';
import { createServices } from '../runtime.ts';
import type { Services } from '../services.ts';

/** Makes queued jobs of `task` due now (instead of waiting for a backoff or a scheduled attempt). */
export async function makeJobsDue(sql: Sql, task: string): Promise<number> {
  const r = await sql`
    update graphile_worker._private_jobs set run_at = now()
    where locked_at is null and task_id = (select id from graphile_worker._private_tasks where identifier = ${task})`;
  return r.count;
}

/** Jobs of `task` still in the queue (pending, running or given up). */
export async function queuedJobs(sql: Sql, task: string) {
  return sql<
    {
      id: string;
      attempts: number;
      max_attempts: number;
      last_error: string | null;
      key: string | null;
      locked_by: string | null;
      run_at: Date;
    }[]
  >`
    select j.id, j.attempts, j.max_attempts, j.last_error, j.key, j.locked_by, j.run_at
    from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
    where t.identifier = ${task} order by j.id`;
}

/** Services over a test database, with every log line kept in `lines`. */
export function servicesFor(db: { url: string; sql: Sql }): {
  services: Services;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const config = loadConfig({
    DATA_DIR: '/tmp/apprefer-queue-test',
    SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789',
    DATABASE_URL: db.url,
    LOG_LEVEL: 'silent',
  });
  return { services: createServices(config, db.sql, pino({ level: 'debug' }, sink)), lines };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
