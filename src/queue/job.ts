import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Services } from '../services.ts';

/**
 * What a job handler gets. Handlers must be idempotent: delivery is at least once (a job that was
 * running when its process died runs again after the reclaim in reclaim.ts).
 */
export type JobContext = {
  services: Services;
  /** The server's logger with `job` (the task name) and `jobId` bound. */
  log: Logger;
  /** Aborted when a graceful shutdown has waited long enough: stop calling out and return. */
  signal: AbortSignal;
  /** 1 on the first run. */
  attempt: number;
};

export type JobHandler = (payload: unknown, ctx: JobContext) => Promise<void>;

/**
 * One kind of background work. `cron` jobs are created by the scheduler once per period for the
 * whole database, however many processes run it; `everySeconds` jobs (sub-minute cadence) are
 * one chained job per database that queues its own next run. Neither set: queued by code
 * (`enqueueJob`), e.g. one job per pending Apple Search Ads lookup.
 */
export type JobDefinition = {
  run: JobHandler;
  cron?: string;
  /** Seconds between runs, or read from the configuration. */
  everySeconds?: number | ((config: Config) => number);
  /** Attempts of a cron job before it is given up until its next period (default 10). */
  maxAttempts?: number;
};
