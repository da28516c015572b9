import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Clicks the database could not take, kept on disk until it can: files of COPY lines, as the
 * writer batches them, under DATA_DIR/clicks-spill. A file is written under a temporary name,
 * synced, then renamed, so a `.copy` file is always complete. Replaying one twice is harmless:
 * the writer skips rows already stored (click ids are unique).
 */
export class ClickSpill {
  private seq = 0;

  constructor(readonly dir: string) {}

  /** Writes the buffers as one file; returns its name. */
  async save(parts: Buffer[]): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const { tmp, final } = this.names();
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(Buffer.concat(parts));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, final);
    return final;
  }

  /** Complete spill files, oldest first (from this process, an earlier run, or another process on this DATA_DIR). */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch((e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[];
      throw e;
    });
    return names
      .filter((n) => n.endsWith('.copy'))
      .sort()
      .map((n) => path.join(this.dir, n));
  }

  /** A file's lines (a missing file, already replayed by another process, reads as empty). */
  async read(file: string): Promise<Buffer> {
    return readFile(file).catch((e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
      throw e;
    });
  }

  async remove(file: string): Promise<void> {
    await unlink(file).catch((e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    });
  }

  private names() {
    // Sortable by time; pid and sequence keep processes and same-millisecond spills apart.
    const base = `clicks-${String(Date.now()).padStart(15, '0')}-${process.pid}-${this.seq++}`;
    return { tmp: path.join(this.dir, `${base}.tmp`), final: path.join(this.dir, `${base}.copy`) };
  }
}

/** Lines in a spill buffer (one click each). */
export const lineCount = (data: Buffer) => {
  let n = 0;
  for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) n++;
  return n;
};

/** Splits COPY lines into pieces of at most about `max` bytes, cut only between lines. */
export function* chunksOf(data: Buffer, max: number): Generator<Buffer> {
  let start = 0;
  while (start < data.length) {
    let end = Math.min(start + max, data.length);
    if (end < data.length) {
      const cut = data.lastIndexOf(0x0a, end - 1);
      end = cut >= start ? cut + 1 : data.indexOf(0x0a, end) + 1 || data.length;
    }
    yield data.subarray(start, end);
    start = end;
  }
}
