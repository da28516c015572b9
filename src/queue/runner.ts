/**
 * The one job system: graphile-worker on the application's PostgreSQL. Jobs are rows, so a queued
 * job survives crashes and restarts, several server processes share the queue (`for update skip
 * locked`), and cron jobs are created once per period for the whole database. What runs is listed
 * in src/jobs.ts; this file turns that list into a running worker pool.
 */
import { EventEmitter } from 'node:events';
import {
  Logger as GraphileLogger,
  parseCronItems,
  run,
  type CronItem,
  type Runner,
  type RunnerOptions,
  type Task,
  type TaskList,
  type WorkerEvents,
} from 'graphile-worker';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Services } from '../services.ts';
import type { JobContext, JobDefinition } from './job.ts';
import { ProcessLiveness, reclaimJobsOfDeadWorkers, releaseWorkers } from './reclaim.ts';

export type JobRunnerOptions = {
  /** Jobs run at the same time in this process (an Apple lookup must not hold up the fold). */
  concurrency?: number;
  /** How often due jobs queued for later are looked for (new jobs are noticed at once). */
  pollIntervalMs?: number;
  /** How long a graceful stop waits for running jobs; their abort signal fires halfway. */
  stopTimeoutMs?: number;
};

export type JobRunner = { stop(): Promise<void> };

const DEFAULT_MAX_ATTEMPTS = 10;
/** A chained job that fails runs again after everySeconds × 2^failures, at most this long. */
const MAX_CHAIN_BACKOFF_S = 60;
/** A runner stopped by a database failure is started again after this long (and retried). */
const RESTART_MS = 5_000;

export async function startJobRunner(
  services: Services,
  jobs: Record<string, JobDefinition>,
  opts: JobRunnerOptions = {},
): Promise<JobRunner> {
  const { log, sql } = services;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const liveness = new ProcessLiveness(services.databaseUrl, log);
  await liveness.start();
  const reclaimed = await reclaimJobsOfDeadWorkers(sql);
  if (reclaimed.length)
    log.warn({ workers: reclaimed }, 'jobs of stopped processes returned to the queue');

  // A worker takes no job before it is registered under this process's key: a job locked by an
  // unregistered worker could not be reclaimed if the process died. graphile-worker asks
  // `forbiddenFlags` before every fetch and awaits it when it is a promise.
  const unregistered = new Set<string>();
  let registering: Promise<null> | null = null;
  const events: WorkerEvents = new EventEmitter();
  const workersOfThisRunner = new Set<string>();
  events.on('worker:create', ({ worker }) => {
    unregistered.add(worker.workerId);
    workersOfThisRunner.add(worker.workerId);
  });
  const registerWorkers = (): null | Promise<null> => {
    if (!unregistered.size) return null;
    registering ??= (async () => {
      for (const id of [...unregistered]) {
        await liveness.register(sql, id);
        unregistered.delete(id);
      }
      return null;
    })().finally(() => {
      registering = null;
    });
    return registering;
  };

  // The pool is ours, not graphile-worker's: graphile-worker takes its error listener off before its
  // own pool has ended, so a connection dropped during a stop (the database shutting down, a test
  // dropping its database) was an unhandled 'error' event. Ours listens for the pool's whole life.
  const pool = new pg.Pool({
    connectionString: services.databaseUrl,
    max: 10,
    application_name: 'apprefer-jobs',
  });
  pool.on('error', (err) => {
    log.warn({ err: { message: err.message } }, 'job queue connection lost; it is replaced');
  });
  const options: RunnerOptions = {
    pgPool: pool,
    concurrency: opts.concurrency ?? 4,
    pollInterval: opts.pollIntervalMs ?? 1_000,
    noHandleSignals: true,
    gracefulShutdownAbortTimeout: stopTimeoutMs / 2,
    logger: graphileLogger(log),
    events,
    forbiddenFlags: registerWorkers,
    taskList: taskList(services, jobs),
    parsedCronItems: parseCronItems(cronItems(jobs)),
  };

  // graphile-worker stops its runner for good when the database fails under its cron (a restart or
  // an outage across a minute boundary) and rejects `runner.promise`: unhandled, that ended the
  // process. Here the failure is logged and a new runner starts once the database answers again.
  let runner: Runner | null = null;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarting: Promise<void> | null = null;
  const launch = async () => {
    // Jobs the failed runner's workers still hold go back to the queue (this process lives on, so
    // the dead-process reclaim would not free them).
    for (const id of workersOfThisRunner) unregistered.delete(id);
    await releaseWorkers(sql, [...workersOfThisRunner]);
    workersOfThisRunner.clear();
    const started = await run(options);
    started.promise.catch((err: unknown) => {
      if (stopping || runner !== started) return;
      runner = null;
      log.error(
        { err },
        `job runner stopped on an error; starting it again in ${RESTART_MS / 1000} s`,
      );
      scheduleRestart();
    });
    runner = started;
    try {
      // Chained jobs start now rather than at the next minute's safety net.
      for (const [name, def] of Object.entries(jobs)) {
        if (def.everySeconds)
          await started.addJob(name, {}, { ...chainOptions(name), jobKeyMode: 'preserve_run_at' });
      }
    } catch (err) {
      runner = null;
      await started.stop().catch(() => {});
      throw err;
    }
  };
  const scheduleRestart = () => {
    restartTimer = setTimeout(() => {
      if (stopping) return;
      restarting = launch()
        .then(
          () => log.warn('job runner started again'),
          (err) => {
            log.warn(
              { err: { message: String(err?.message ?? err) } },
              'job runner could not start yet; retrying',
            );
            if (!stopping) scheduleRestart();
          },
        )
        .finally(() => {
          restarting = null;
        });
    }, RESTART_MS);
  };
  await launch();
  log.debug({ tasks: Object.keys(jobs), processKey: liveness.processKey }, 'job runner started');

  return {
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        (async () => {
          await restarting; // a runner being started again is stopped too
          // (it may have stopped itself on an error a moment ago: nothing more to stop then)
          await runner?.stop().catch(() => {});
          return false;
        })(),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), stopTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut)
        log.warn(
          { waitedMs: stopTimeoutMs },
          'jobs still running at shutdown; they run again after the restart',
        );
      // Connections a job still holds are not waited for: the process is going away.
      if (!timedOut) await pool.end();
      await liveness.stop();
    },
  };
}

function taskList(services: Services, jobs: Record<string, JobDefinition>): TaskList {
  const list: TaskList = {};
  for (const [name, def] of Object.entries(jobs))
    list[name] = def.everySeconds ? chainedTask(services, name, def) : task(services, name, def);
  return list;
}

function contextOf(services: Services, name: string, helpers: Parameters<Task>[1]): JobContext {
  return {
    services,
    log: services.log.child({ job: name, jobId: helpers.job.id }),
    signal: helpers.abortSignal ?? new AbortController().signal,
    attempt: helpers.job.attempts,
  };
}

/** A failure is logged with the job's name and thrown back: graphile-worker retries it with backoff. */
function task(services: Services, name: string, def: JobDefinition): Task {
  return async (payload, helpers) => {
    const ctx = contextOf(services, name, helpers);
    try {
      await def.run(payload, ctx);
    } catch (err) {
      const { attempts, max_attempts: maxAttempts } = helpers.job;
      ctx.log.error(
        { err, attempt: attempts, maxAttempts },
        attempts >= maxAttempts ? 'job failed; giving up' : 'job failed; retrying with backoff',
      );
      throw err;
    }
  };
}

/**
 * A sub-minute recurring job: each run queues the next under one job key, so there is one pending
 * run per database however many processes work the queue. A failure is logged and the next run
 * backs off (everySeconds doubled per consecutive failure, capped), instead of piling up retries.
 */
function chainedTask(services: Services, name: string, def: JobDefinition): Task {
  const every =
    typeof def.everySeconds === 'function' ? def.everySeconds(services.config) : def.everySeconds!;
  return async (payload, helpers) => {
    const ctx = contextOf(services, name, helpers);
    let failures = Number((payload as { failures?: unknown } | null)?.failures) || 0;
    try {
      await def.run(payload, ctx);
      failures = 0;
    } catch (err) {
      failures += 1;
      ctx.log.error({ err, consecutiveFailures: failures }, 'job failed; the next run backs off');
    }
    const delayS = Math.min(every * 2 ** failures, Math.max(every, MAX_CHAIN_BACKOFF_S));
    await helpers.addJob(
      name,
      { failures },
      { ...chainOptions(name), runAt: new Date(Date.now() + delayS * 1000) },
    );
  };
}

/**
 * One job key keeps one pending run per database. The queue name keeps runs from overlapping: while
 * a run holds its job, graphile-worker answers an `addJob` with the same key (another process
 * starting, the minute's safety net) with a second job, which a free worker would start at once.
 */
function chainOptions(name: string) {
  return { jobKey: name, queueName: name };
}

function cronItems(jobs: Record<string, JobDefinition>): CronItem[] {
  const items: CronItem[] = [];
  for (const [name, def] of Object.entries(jobs)) {
    const maxAttempts = def.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (def.cron) {
      // One job key per task: a run still retrying when the next period comes is replaced, not doubled.
      items.push({
        task: name,
        identifier: name,
        match: def.cron,
        options: { backfillPeriod: 0, maxAttempts, jobKey: name },
      });
    } else if (def.everySeconds) {
      // Safety net: revives the chain every minute if it was ever lost; keeps a pending run as it is.
      items.push({
        task: name,
        identifier: `${name}_chain`,
        match: '* * * * *',
        options: {
          backfillPeriod: 0,
          maxAttempts,
          ...chainOptions(name),
          jobKeyMode: 'preserve_run_at',
        },
      });
    }
  }
  return items;
}

/** graphile-worker's own messages at debug; failures are logged by the task wrappers above. */
function graphileLogger(log: Logger): GraphileLogger {
  return new GraphileLogger((scope) => (level, message, meta) => {
    const fields = { worker: scope.workerId, task: scope.taskIdentifier, jobId: scope.jobId };
    if (level === 'error' && !(meta as { failure?: boolean } | undefined)?.failure)
      log.error(fields, message);
    else if (level === 'warning') log.warn(fields, message);
    else log.debug(fields, message);
  });
}
