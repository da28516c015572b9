/**
 * Group commit for small independent writes (configure's install, docs/sdk-ingestion.md). Each
 * caller hands in a unit of work, a function of a transaction; units queued while a transaction
 * commits go together in the next one, their statements pipelined on its connection. N concurrent
 * installs then cost one commit (one WAL flush) instead of N, and the caller still gets its
 * answer only once its rows are durable.
 *
 * A failing unit aborts its transaction: the batch then runs again unit by unit, each in its own
 * transaction, so one bad unit cannot fail its neighbours (and a deadlock between two batches
 * costs a retry, not an error).
 */
import type { Sql } from './client.ts';
import { foreground } from '../lib/foreground.ts';

type Unit<T> = {
  work: (tx: Sql) => Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
};

export class GroupCommit {
  private queue: Unit<unknown>[] = [];
  private active = 0;
  private idle: (() => void) | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly opts: { maxBatch: number; maxConcurrent: number } = {
      maxBatch: 64,
      maxConcurrent: 3,
    },
  ) {}

  /** Runs `work` in a transaction shared with other units; resolves once that has committed. */
  run<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve, reject } as Unit<unknown>);
      this.kick();
    });
  }

  /** Waits until every unit handed in is settled (shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.active) await new Promise<void>((r) => (this.idle = r));
  }

  private kick() {
    if (this.active >= this.opts.maxConcurrent && this.queue.length) foreground.busy();
    while (this.active < this.opts.maxConcurrent && this.queue.length) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.active++;
      void this.flush(batch).finally(() => {
        this.active--;
        if (!this.queue.length && !this.active) {
          this.idle?.();
          this.idle = null;
        }
        this.kick();
      });
    }
  }

  private async flush(batch: Unit<unknown>[]): Promise<void> {
    try {
      const results = await this.sql.begin(async (tx) => {
        // Every unit settles before the transaction ends: none may issue a statement after it.
        const settled = await Promise.allSettled(batch.map((u) => u.work(tx as unknown as Sql)));
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
        return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value);
      });
      batch.forEach((u, i) => u.resolve(results[i]));
    } catch (err) {
      if (batch.length === 1) return batch[0].reject(err);
      for (const u of batch) {
        try {
          u.resolve(await this.sql.begin((tx) => u.work(tx as unknown as Sql)));
        } catch (e) {
          u.reject(e);
        }
      }
    }
  }
}
