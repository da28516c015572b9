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
import { Batcher } from '../lib/batcher.ts';

type Work = (tx: Sql) => Promise<unknown>;

export class GroupCommit {
  private readonly batcher: Batcher<Work, unknown>;

  constructor(
    private readonly sql: Sql,
    opts: { maxBatch: number; maxConcurrent: number } = { maxBatch: 64, maxConcurrent: 3 },
  ) {
    this.batcher = new Batcher((units) => this.commit(units), {
      ...opts,
      foreground: true,
      retryAlone: () => true,
    });
  }

  /** Runs `work` in a transaction shared with other units; resolves once that has committed. */
  run<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    return this.batcher.submit(work) as Promise<T>;
  }

  /** Waits until every unit handed in is settled (shutdown). */
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  private commit(units: Work[]): Promise<unknown[]> {
    return this.sql.begin(async (tx) => {
      // Every unit settles before the transaction ends: none may issue a statement after it.
      const settled = await Promise.allSettled(units.map((work) => work(tx as unknown as Sql)));
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value);
    }) as Promise<unknown[]>;
  }
}
