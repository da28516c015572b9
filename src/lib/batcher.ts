/**
 * Group commit, the loop every writer of the hot paths shares (SDK events, installs, webhooks, SKAN
 * postbacks). Callers submit an item and wait for the batch that carries it to be written: an idle
 * batcher writes at once; while batches are in flight, new items queue and go together in the next
 * one. So a burst costs one statement and one commit per batch instead of one per item, and each
 * caller still answers only once its item is durable.
 */
import { foreground } from './foreground.ts';

export type BatcherOptions = {
  maxBatch: number;
  /** Batches written at the same time. */
  maxConcurrent: number;
  /** A writer of SDK ingestion: says when every slot is taken and items wait (src/lib/foreground.ts). */
  foreground?: boolean;
  /** A background writer: pauses this long between batches while SDK ingestion backs up. */
  yieldMs?: number;
  /**
   * A failed batch of several items is written again item by item when this answers true, so one
   * bad item cannot fail its neighbours; otherwise every item gets the error.
   */
  retryAlone?: (err: unknown, size: number) => boolean;
};

type Queued<T, R> = { item: T; resolve: (r: R) => void; reject: (e: unknown) => void };

export class Batcher<T, R = void> {
  private queue: Queued<T, R>[] = [];
  private active = 0;
  private idle: (() => void) | null = null;

  /** `write` gets a batch and returns one result per item, in order (nothing when R is void). */
  constructor(
    private readonly write: (items: T[]) => Promise<R[] | void>,
    private readonly opts: BatcherOptions,
  ) {}

  /** Items waiting for a batch (not those being written). */
  get queued(): number {
    return this.queue.length;
  }

  /** Resolves with the item's result once its batch is written. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.kick();
    });
  }

  /** Waits until every item submitted is settled (shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.active) await new Promise<void>((r) => (this.idle = r));
  }

  private kick() {
    if (this.opts.foreground && this.active >= this.opts.maxConcurrent && this.queue.length)
      foreground.busy();
    while (this.active < this.opts.maxConcurrent && this.queue.length) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.active++;
      void this.flush(batch).finally(async () => {
        // Ingestion first: fewer, larger background batches while SDK writes back up.
        if (this.opts.yieldMs && foreground.isBusy())
          await new Promise((r) => setTimeout(r, this.opts.yieldMs));
        this.active--;
        if (!this.queue.length && !this.active) {
          this.idle?.();
          this.idle = null;
        }
        this.kick();
      });
    }
  }

  private async flush(batch: Queued<T, R>[]): Promise<void> {
    try {
      const results = await this.write(batch.map((q) => q.item));
      batch.forEach((q, i) => q.resolve(results?.[i] as R));
    } catch (err) {
      if (batch.length > 1 && this.opts.retryAlone?.(err, batch.length)) {
        for (const q of batch) await this.flush([q]);
        return;
      }
      for (const q of batch) q.reject(err);
    }
  }
}
