import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.ts';

/** A write that records its batches and waits for `release()` before it returns. */
function gatedWrite() {
  const batches: number[][] = [];
  let open: () => void = () => {};
  let gate = new Promise<void>((r) => (open = r));
  return {
    batches,
    release: () => {
      open();
      gate = new Promise<void>((r) => (open = r));
    },
    write: async (items: number[]) => {
      batches.push(items);
      await gate;
      return items.map((n) => n * 10);
    },
  };
}

describe('Batcher', () => {
  it('writes the first item at once and the items that came meanwhile together, each caller getting its result', async () => {
    const w = gatedWrite();
    const b = new Batcher(w.write, { maxBatch: 100, maxConcurrent: 1 });
    const first = b.submit(1);
    const rest = [2, 3, 4].map((n) => b.submit(n));
    expect(w.batches).toEqual([[1]]);
    w.release();
    expect(await first).toBe(10);
    await new Promise((r) => setImmediate(r));
    expect(w.batches).toEqual([[1], [2, 3, 4]]);
    w.release();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it('a failed batch is written again item by item when retryAlone says so: only the bad item fails', async () => {
    const seen: number[][] = [];
    const b = new Batcher(
      async (items: number[]) => {
        seen.push(items);
        if (items.includes(13)) throw new Error('bad row');
      },
      { maxBatch: 100, maxConcurrent: 1, retryAlone: () => true },
    );
    const blocker = b.submit(0); // the next three queue behind it and go as one batch
    const results = await Promise.allSettled([12, 13, 14].map((n) => b.submit(n)));
    await blocker;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(seen).toEqual([[0], [12, 13, 14], [12], [13], [14]]);
  });

  it('without retryAlone every item of a failed batch gets the error', async () => {
    const b = new Batcher(
      async () => {
        throw new Error('database down');
      },
      { maxBatch: 100, maxConcurrent: 1 },
    );
    const results = await Promise.allSettled([1, 2].map((n) => b.submit(n)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('keeps at most maxConcurrent batches in flight and at most maxBatch items in one; drain waits for all', async () => {
    const w = gatedWrite();
    const b = new Batcher(w.write, { maxBatch: 2, maxConcurrent: 2 });
    const all = [1, 2, 3, 4, 5, 6].map((n) => b.submit(n));
    expect(w.batches).toEqual([[1], [2]]);
    let drained = false;
    const drain = b.drain().then(() => (drained = true));
    for (let i = 0; i < 4; i++) {
      w.release();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    await drain;
    expect(drained).toBe(true);
    expect(w.batches.flat().sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Math.max(...w.batches.map((x) => x.length))).toBeLessThanOrEqual(2);
    expect(b.queued).toBe(0);
  });
});
