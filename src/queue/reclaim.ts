/**
 * Jobs of a process that died (kill -9, a crash, a lost machine) go back to the queue at once.
 *
 * graphile-worker marks a running job with its worker's id and frees it only after four hours.
 * Here every process holds a session advisory lock for as long as it lives, and records its
 * workers' ids under that lock's key (`job_workers`). PostgreSQL drops the lock when the process's
 * connection goes, so "a worker whose process key is not locked" is exactly "a dead worker", in
 * any number of processes, without clocks or heartbeats. Reclaiming runs when a runner starts and
 * every minute (`queue_reclaim` in src/jobs.ts).
 */
import { randomInt } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import type { JobContext } from './job.ts';

/** First key of the two-key advisory lock: "jobs" in ASCII; the second key is the process key. */
const LOCK_CLASS = 0x6a6f6273;
const RECONNECT_MS = 5_000;

/** Holds this process's liveness lock on a connection of its own, re-taken after a reconnect. */
export class ProcessLiveness {
  readonly processKey = randomInt(1, 2 ** 31 - 1);
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'apprefer-jobs-liveness',
    });
    client.on('error', (err) => {
      if (this.stopped) return;
      this.log.warn(
        { err: { message: err.message } },
        'job liveness connection lost; reconnecting',
      );
      this.client = null;
      this.retry = setTimeout(() => void this.start().catch(() => {}), RECONNECT_MS);
      this.retry.unref();
    });
    try {
      await client.connect();
      await client.query('select pg_advisory_lock($1, $2)', [LOCK_CLASS, this.processKey]);
      this.client = client;
    } catch (err) {
      await client.end().catch(() => {});
      if (this.stopped) return;
      if (!this.retry) throw err; // the first start fails loudly; reconnects keep trying
      this.retry = setTimeout(() => void this.start().catch(() => {}), RECONNECT_MS);
      this.retry.unref();
    }
  }

  /** Records a worker of this process, so that its jobs are reclaimed if the process dies. */
  async register(sql: Sql, workerId: string): Promise<void> {
    await sql`insert into job_workers (worker_id, process_key) values (${workerId}, ${this.processKey}) on conflict do nothing`;
  }

  /** Releases the lock: from now on this process's leftover jobs may be reclaimed by others. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.client?.end().catch(() => {});
    this.client = null;
  }
}

/** Frees the jobs of workers whose process is gone; returns those workers' ids. */
export async function reclaimJobsOfDeadWorkers(sql: Sql): Promise<string[]> {
  const rows = await sql<{ worker_id: string }[]>`
    delete from job_workers w
    where not exists (
      select 1 from pg_locks l
      where l.locktype = 'advisory' and l.granted
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = ${LOCK_CLASS}::int::oid and l.objid = w.process_key::oid and l.objsubid = 2)
    returning worker_id`;
  const ids = rows.map((r) => r.worker_id);
  if (ids.length) await sql`select graphile_worker.force_unlock_workers(${ids}::text[])`;
  return ids;
}

/** Frees the jobs of workers of this process that stopped (a runner that failed and is replaced). */
export async function releaseWorkers(sql: Sql, workerIds: string[]): Promise<void> {
  if (!workerIds.length) return;
  await sql`delete from job_workers where worker_id = any(${workerIds}::text[])`;
  await sql`select graphile_worker.force_unlock_workers(${workerIds}::text[])`;
}

/** The recurring job: logs what it gave back to the queue. */
export async function reclaimJob(_payload: unknown, { services, log }: JobContext): Promise<void> {
  const ids = await reclaimJobsOfDeadWorkers(services.sql);
  if (ids.length) log.warn({ workers: ids }, 'jobs of stopped processes returned to the queue');
}
