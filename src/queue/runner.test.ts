/**
 * The job system as an operator relies on it: queued work survives a process that is not running
 * or was killed, failures are retried and logged by name, several processes share the queue
 * without doubling recurring work, and shutdown finishes running jobs without losing queued ones.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, eventually } from '../../test/helpers.ts';
import { enqueueJob } from './enqueue.ts';
import { startJobRunner } from './runner.ts';
import { queuedJobs, servicesFor, sleep } from './test-support.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

describe('the job queue', () => {
  it('runs a job that was queued while no process was running', async () => {
    await enqueueJob(db.sql, 'note', { n: 1 });
    const runs: unknown[] = [];
    const runner = await startJobRunner(servicesFor(db).services, {
      note: {
        run: async (p) => {
          runs.push(p);
        },
      },
    });
    try {
      await eventually(async () => runs.length === 1, 30_000); // a busy machine: the start takes its time
      expect(runs).toEqual([{ n: 1 }]);
      // The job row is deleted after its handler returns, not before: wait for it.
      await eventually(async () => (await queuedJobs(db.sql, 'note')).length === 0, 10_000);
    } finally {
      await runner.stop();
    }
  });

  it('retries a failing job with backoff and logs the error with the job name', async () => {
    let calls = 0;
    const { services, lines } = servicesFor(db);
    await enqueueJob(db.sql, 'flaky', {});
    const runner = await startJobRunner(services, {
      flaky: {
        run: async () => {
          calls += 1;
          if (calls === 1) throw new Error('upstream down');
        },
      },
    });
    try {
      await eventually(async () => calls === 1, 10_000);
      const [waiting] = await eventually(async () => {
        const jobs = await queuedJobs(db.sql, 'flaky');
        return jobs[0]?.locked_by === null ? jobs : null;
      }, 10_000);
      expect(waiting.attempts).toBe(1);
      expect(waiting.last_error).toContain('upstream down');
      expect(waiting.run_at.getTime()).toBeGreaterThan(Date.now()); // backed off, not immediate
      expect(lines).toContainEqual(
        expect.objectContaining({
          job: 'flaky',
          attempt: 1,
          msg: 'job failed; retrying with backoff',
          err: expect.objectContaining({ message: 'upstream down' }),
        }),
      );
      await eventually(
        async () => calls === 2 && (await queuedJobs(db.sql, 'flaky')).length === 0,
        15_000,
      );
    } finally {
      await runner.stop();
    }
  });

  it('with two processes on one database, a recurring job runs once per period and never twice at a time', async () => {
    let runs = 0;
    let active = 0;
    let maxActive = 0;
    const tick = {
      everySeconds: 1,
      run: async () => {
        runs += 1;
        maxActive = Math.max(maxActive, ++active);
        await sleep(100);
        active -= 1;
      },
    };
    const a = await startJobRunner(servicesFor(db).services, { tick });
    const b = await startJobRunner(servicesFor(db).services, { tick });
    try {
      await sleep(4_500);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    // One run a second at most (plus the first at start); two processes each running it would double that.
    const queued = (await queuedJobs(db.sql, 'tick')).length;
    expect({ runs: runs >= 2 && runs <= 6, maxActive, queued }, `${runs} runs`).toEqual({
      runs: true,
      maxActive: 1,
      queued: 1,
    });
  });

  it('graceful stop lets a running job finish and keeps queued jobs queued', async () => {
    let started = false;
    let finished = false;
    await enqueueJob(db.sql, 'slow', {});
    await enqueueJob(db.sql, 'later', {}, { runAt: new Date(Date.now() + 3600_000) });
    const runner = await startJobRunner(servicesFor(db).services, {
      slow: {
        run: async () => {
          started = true;
          await sleep(800);
          finished = true;
        },
      },
      later: { run: async () => {} },
    });
    await eventually(async () => started, 10_000);
    await runner.stop();
    expect(finished).toBe(true);
    expect(await queuedJobs(db.sql, 'slow')).toEqual([]);
    expect(await queuedJobs(db.sql, 'later')).toHaveLength(1);
    // A stop leaves no connection behind: one closing after it returned was cut by the database's
    // shutdown as an unhandled error.
    const left = await db.sql<{ application_name: string }[]>`
      select application_name from pg_stat_activity
      where datname = current_database() and application_name like 'apprefer-jobs%'`;
    expect(left).toEqual([]);
  });

  it('a job still running when its process is killed (SIGKILL) runs again as soon as a runner starts', async () => {
    await enqueueJob(db.sql, 'crashy', {});
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'crash-child.fixture.ts')],
      {
        env: { PATH: process.env.PATH!, DATABASE_URL: db.url },
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.on('exit', r));
    try {
      await eventually(async () => out.includes('started'), 30_000);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const [locked] = await queuedJobs(db.sql, 'crashy');
    expect(locked.locked_by).not.toBeNull(); // the dead process still holds it

    const runs: unknown[] = [];
    const { services, lines } = servicesFor(db);
    const runner = await startJobRunner(services, {
      crashy: {
        run: async (p) => {
          runs.push(p);
        },
      },
    });
    try {
      await eventually(async () => runs.length === 1, 30_000); // a busy machine: the reclaim takes its time
      // The job row is deleted after its handler returns, not before: wait for it.
      await eventually(async () => (await queuedJobs(db.sql, 'crashy')).length === 0, 10_000);
      expect(runs).toHaveLength(1);
      expect(lines).toContainEqual(
        expect.objectContaining({ msg: 'jobs of stopped processes returned to the queue' }),
      );
    } finally {
      await runner.stop();
    }
  });
});
