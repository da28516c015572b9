import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from 'pino';
import { ClickSpill, chunksOf, lineCount } from './spill.ts';

/** One clicks row as written (columns of 0002_links_clicks.sql, as 0005 left them). */
export type ClickRow = {
  id: string;
  app_id: string;
  link_id: string;
  environment: 'live' | 'sandbox';
  clicked_at: Date;
  network: string;
  campaign: string | null;
  campaign_id: string | null;
  campaign_name: string | null;
  ad_group_id: string | null;
  ad_group_name: string | null;
  ad_id: string | null;
  ad_name: string | null;
  keyword: string | null;
  fbclid: string | null;
  gclid: string | null;
  gbraid: string | null;
  wbraid: string | null;
  ttclid: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_term: string | null;
  utm_content: string | null;
  idfa: string | null;
  gaid: string | null;
  query_params: Record<string, string>;
  ip: string | null;
  user_agent: string | null;
  platform: string;
  os_version: string | null;
  device_model: string | null;
  language: string | null;
  country: string | null;
  referer: string | null;
  /** redirect (/api/c), landing (/g page view), capture (/api/c on the API host for a link with no destination) */
  source: 'redirect' | 'landing' | 'capture';
  is_bot: boolean;
  bot_reason: string | null;
  duplicate_of: string | null;
};

export const COLUMNS = [
  'id',
  'app_id',
  'link_id',
  'environment',
  'clicked_at',
  'network',
  'campaign',
  'campaign_id',
  'campaign_name',
  'ad_group_id',
  'ad_group_name',
  'ad_id',
  'ad_name',
  'keyword',
  'fbclid',
  'gclid',
  'gbraid',
  'wbraid',
  'ttclid',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'idfa',
  'gaid',
  'query_params',
  'ip',
  'user_agent',
  'platform',
  'os_version',
  'device_model',
  'language',
  'country',
  'referer',
  'source',
  'is_bot',
  'bot_reason',
  'duplicate_of',
] as const satisfies readonly (keyof ClickRow)[];

/**
 * A click as one line of COPY's text format, in COLUMNS order: fields separated by tabs, `\N` for
 * null, backslash, tab, newline and carriage return escaped. A line ends with the only raw newline
 * it contains (UTF-8 never has byte 0x0A inside a character), so a batch splits back into rows.
 * Written out field by field, since this runs once per click on the redirect path; `s()` marks the
 * fields that cannot hold those characters (generated ids, enums, a validated IP, country or
 * language tag), everything a request or a link can carry goes through `f()`.
 */
export function copyLine(r: ClickRow): string {
  return (
    `${s(r.id)}\t${s(r.app_id)}\t${s(r.link_id)}\t${s(r.environment)}\t${isoTime(r.clicked_at)}\t${s(r.network)}\t` +
    `${f(r.campaign)}\t${f(r.campaign_id)}\t${f(r.campaign_name)}\t${f(r.ad_group_id)}\t${f(r.ad_group_name)}\t${f(r.ad_id)}\t` +
    `${f(r.ad_name)}\t${f(r.keyword)}\t${f(r.fbclid)}\t${f(r.gclid)}\t${f(r.gbraid)}\t${f(r.wbraid)}\t${f(r.ttclid)}\t` +
    `${f(r.utm_source)}\t${f(r.utm_medium)}\t${f(r.utm_campaign)}\t${f(r.utm_term)}\t${f(r.utm_content)}\t${f(r.idfa)}\t` +
    `${f(r.gaid)}\t${f(JSON.stringify(r.query_params))}\t${s(r.ip)}\t${f(r.user_agent)}\t${s(r.platform)}\t` +
    `${f(r.os_version)}\t${f(r.device_model)}\t${s(r.language)}\t${s(r.country)}\t${f(r.referer)}\t${s(r.source)}\t` +
    `${r.is_bot ? 't' : 'f'}\t${s(r.bot_reason)}\t${s(r.duplicate_of)}\n`
  );
}
const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const escape = (c: string) =>
  c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r';
const f = (v: string | null) =>
  v === null ? '\\N' : SPECIAL.test(v) ? v.replace(SPECIALS, escape) : v;
const s = (v: string | null) => (v === null ? '\\N' : v);

// Clicks arriving in the same millisecond share one formatted time.
let isoMs = NaN;
let iso = '';
const isoTime = (d: Date) => {
  const ms = d.getTime();
  if (ms !== isoMs) {
    isoMs = ms;
    iso = d.toISOString();
  }
  return iso;
};

const COPY_CLICKS = `copy clicks (${COLUMNS.join(', ')}) from stdin`;

export type ClickWriterOptions = {
  /** Rows per COPY. */
  batchSize: number;
  /** How long a click may wait for companions before its batch is written. */
  flushIntervalMs: number;
  /** Clicks held in memory before callers are made to wait (backpressure). */
  maxPending: number;
  /** The same bound in bytes, so that clicks with long URLs cannot exhaust memory. */
  maxPendingBytes: number;
  /** On shutdown, how long to keep retrying a failing database before giving up (logged). */
  closeTimeoutMs: number;
  /**
   * Where clicks go while the database cannot take them (DATA_DIR/clicks-spill), so that neither
   * redirects nor a shutdown wait for it; written once it is back, or at the next start. Null:
   * clicks wait in memory (and a shutdown past `closeTimeoutMs` loses them).
   */
  spillDir: string | null;
};

export const DEFAULT_WRITER_OPTIONS: ClickWriterOptions = {
  batchSize: 2_000,
  flushIntervalMs: 50,
  maxPending: 20_000,
  maxPendingBytes: 64 * 1024 * 1024,
  closeTimeoutMs: 20_000,
  spillDir: null,
};

// SQLSTATE classes where retrying the same rows cannot help: data exceptions, constraint violations.
const isDataError = (e: unknown) => /^(22|23)/.test(String((e as { code?: string }).code ?? ''));
const UNIQUE_VIOLATION = '23505';

/** Encoded clicks waiting to be written: one COPY each. Only the last batch of the queue takes more rows. */
type Batch = { buf: Buffer; bytes: number; rows: number; sealed: boolean };
const MIN_BATCH_BYTES = 16 * 1024;
const MAX_BATCH_BYTES = 2 * 1024 * 1024;

/**
 * Writes clicks in batches in the background, so a redirect never waits for the database.
 *
 * A click is encoded as a COPY line the moment it is added, into a buffer outside the JS heap:
 * nothing of it is left for the garbage collector, and a batch goes to PostgreSQL as it is.
 * COPY costs PostgreSQL about half of what an INSERT of the same rows does (bench/redirect). The
 * writer has its own connection (node-postgres with pg-copy-streams: postgres.js never settles a
 * COPY that the server rejects).
 *
 * Clicks stay in memory until their COPY commits, and `close()` drains everything. When
 * `maxPending` clicks (or `maxPendingBytes`) are waiting for a slow database, `add()` returns a
 * promise that resolves only when the queue has room, so requests slow down instead of memory
 * growing without bound. A failing database is retried with backoff; meanwhile the waiting
 * clicks are moved to disk (`spillDir`), so no redirect and no shutdown waits for the outage to
 * end, and are written from there once a COPY succeeds again (or at the next start).
 */
export class ClickWriter {
  private batches: Batch[] = [];
  private pendingRows = 0;
  private pendingBytes = 0;
  private nextBatchBytes = MIN_BATCH_BYTES;
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private waiters: (() => void)[] = [];
  private closing = false;
  private draining = 0;
  private failures = 0;
  /** The batch a COPY is writing right now: never moved to disk under it. */
  private inFlight: Batch | null = null;
  private spill: ClickSpill | null;
  /** Spill files to write to the database, oldest first; `replayed` bytes of the first are stored. */
  private spillFiles: string[] = [];
  private replayed = 0;
  private spilling: Promise<boolean> | null = null;

  private opts: ClickWriterOptions;

  constructor(
    private databaseUrl: string,
    private log: Logger,
    opts: Partial<ClickWriterOptions> = {},
  ) {
    this.opts = { ...DEFAULT_WRITER_OPTIONS, ...opts };
    this.spill = this.opts.spillDir ? new ClickSpill(this.opts.spillDir) : null;
  }

  /** Picks up clicks an earlier run (or an outage) left on disk and writes them in the background. */
  async start(): Promise<void> {
    if (!this.spill) return;
    this.spillFiles = await this.spill.list();
    if (!this.spillFiles.length) return;
    this.log.warn(
      { files: this.spillFiles.length, dir: this.spill.dir },
      'click writer: clicks kept on disk during a database outage are being written',
    );
    this.kick();
  }

  /** Clicks, and their bytes, not yet committed. */
  get pending() {
    return this.pendingRows;
  }
  get pendingByteCount() {
    return this.pendingBytes;
  }

  /** Queues a click. Returns a promise only when the caller must wait for room. */
  add(row: ClickRow): void | Promise<void> {
    const line = copyLine(row);
    let batch = this.batches.at(-1);
    // A UTF-16 unit is at most 3 bytes of UTF-8: only a near-full batch needs the exact length.
    const room =
      batch && !batch.sealed && batch.rows < this.opts.batchSize
        ? batch.buf.length - batch.bytes
        : 0;
    if (line.length * 3 > room && Buffer.byteLength(line) > room) {
      batch = {
        buf: Buffer.allocUnsafe(Math.max(this.nextBatchBytes, Buffer.byteLength(line))),
        bytes: 0,
        rows: 0,
        sealed: false,
      };
      this.batches.push(batch);
    }
    const bytes = batch!.buf.write(line, batch!.bytes);
    batch!.bytes += bytes;
    batch!.rows++;
    this.pendingRows++;
    this.pendingBytes += bytes;
    if (this.pendingRows >= this.opts.batchSize) this.kick();
    else if (!this.timer && !this.pumping)
      this.timer = setTimeout(() => this.kick(), this.opts.flushIntervalMs);
    if (this.pendingRows > this.opts.maxPending || this.pendingBytes > this.opts.maxPendingBytes) {
      // The database is down, not slow: this request waits for a disk write, not for the database.
      if (this.failures && this.spill) void this.spillPending();
      return new Promise((resolve) => this.waiters.push(resolve));
    }
  }

  /** Writes everything queued so far. */
  async flush(): Promise<void> {
    this.draining++;
    try {
      while (this.pendingRows || this.pumping) {
        this.kick();
        await this.pumping;
      }
    } finally {
      this.draining--;
    }
  }

  /**
   * Shutdown: drain the queue, then disconnect. A failing database is retried until
   * `closeTimeoutMs`, or not at all when the clicks can go to disk; spill files not yet written
   * stay for the next start.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.draining++;
    const deadline = Date.now() + this.opts.closeTimeoutMs;
    while (this.pendingRows || this.pumping) {
      const givingUp = Date.now() > deadline || (this.failures > 0 && this.spill);
      if (givingUp && !this.pumping) {
        if (this.pendingRows && !(await this.spillPending())) {
          this.log.error(
            { lost: this.pendingRows },
            'click writer: database unavailable at shutdown; clicks lost',
          );
          this.dropPending();
        }
        break;
      }
      if (!givingUp) this.kick();
      await this.pumping;
    }
    if (this.spillFiles.length)
      this.log.warn(
        { files: this.spillFiles.length, dir: this.spill!.dir },
        'click writer: clicks kept on disk; they are written at the next start',
      );
    this.release();
    await this.disconnect();
  }

  private kick() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pumping || !(this.pendingRows || this.spillFiles.length)) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
      // Rows that arrived meanwhile wait for companions: fewer, larger commits cost PostgreSQL far less.
      if (this.pendingRows && !this.timer)
        this.timer = setTimeout(() => this.kick(), this.opts.flushIntervalMs);
    });
  }

  private async pump() {
    while (this.pendingRows || (this.spillFiles.length && !this.closing)) {
      try {
        if (this.pendingRows) await this.writeFirstBatch();
        else await this.replaySpillFile();
        this.failures = 0;
      } catch (e) {
        // Database unreachable or overloaded: keep the rows (on disk when possible) and retry with backoff.
        this.inFlight = null;
        this.failures++;
        const delay = Math.min(100 * 2 ** Math.min(this.failures, 5), 3_000);
        this.log.error(
          { err: withoutRowData(e), pending: this.pendingRows, retryInMs: delay },
          'click writer: insert failed; retrying',
        );
        await this.disconnect();
        if (this.pendingRows) await this.spillPending();
        await new Promise((r) => setTimeout(r, this.closing ? Math.min(delay, 500) : delay));
        if (this.closing) return; // let close() check its deadline
        continue;
      }
      if (this.pendingRows < this.opts.batchSize && !this.draining && !this.spillFiles.length)
        return;
    }
  }

  private async writeFirstBatch() {
    const batch = this.batches[0];
    batch.sealed = true; // add() starts a new batch from now on
    this.inFlight = batch;
    await this.copyAll(batch.buf.subarray(0, batch.bytes));
    this.inFlight = null;
    this.batches.shift();
    this.pendingRows -= batch.rows;
    this.pendingBytes -= batch.bytes;
    // The next buffer fits about twice what this batch held: small at a trickle, large under load.
    this.nextBatchBytes = Math.min(Math.max(batch.bytes * 2, MIN_BATCH_BYTES), MAX_BATCH_BYTES);
    this.release();
  }

  /** Writes the oldest spill file, a COPY per piece, and deletes it. */
  private async replaySpillFile() {
    const file = this.spillFiles[0];
    const data = await this.spill!.read(file);
    for (const piece of chunksOf(data.subarray(this.replayed), MAX_BATCH_BYTES)) {
      await this.copyAll(piece);
      this.replayed += piece.length;
    }
    await this.spill!.remove(file);
    this.spillFiles.shift();
    this.replayed = 0;
    this.log.info({ file, clicks: lineCount(data) }, 'click writer: clicks kept on disk written');
  }

  /** One COPY; a batch PostgreSQL rejects for its data is written row by row. */
  private copyAll(data: Buffer): Promise<void> {
    return this.copy(data).catch(async (e) => {
      if (!isDataError(e)) throw e;
      await this.copyOneByOne(data);
    });
  }

  /**
   * Moves the waiting batches (not one a COPY is writing) to disk; one move at a time. False when
   * there is nowhere to put them.
   */
  private spillPending(): Promise<boolean> {
    this.spilling ??= this.saveWaitingBatches().finally(() => {
      this.spilling = null;
    });
    return this.spilling;
  }

  private async saveWaitingBatches(): Promise<boolean> {
    if (!this.spill) return false;
    const batches = this.batches.filter((b) => b !== this.inFlight);
    if (!batches.length) return true;
    for (const b of batches) b.sealed = true; // add() starts a new batch meanwhile
    try {
      this.spilled(await this.spill.save(batches.map((b) => b.buf.subarray(0, b.bytes))), batches);
      return true;
    } catch (err) {
      this.log.error({ err, dir: this.spill.dir }, 'click writer: cannot keep clicks on disk');
      return false;
    }
  }

  private spilled(file: string, batches: Batch[]) {
    let rows = 0;
    for (const b of batches) {
      rows += b.rows;
      this.pendingRows -= b.rows;
      this.pendingBytes -= b.bytes;
    }
    this.batches = this.batches.filter((b) => !batches.includes(b));
    this.spillFiles.push(file);
    this.log.warn(
      { clicks: rows, file },
      'click writer: database unavailable; clicks kept on disk',
    );
    this.release();
  }

  private dropPending() {
    this.batches = [];
    this.pendingRows = 0;
    this.pendingBytes = 0;
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: 'apprefer click writer',
      connectionTimeoutMillis: 5_000,
    });
    client.on('error', () => {
      if (this.client === client) this.client = null;
    }); // reported by the COPY that fails
    await client.connect();
    this.client = client;
    return client;
  }

  private async disconnect() {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  /** One COPY (one transaction): resolves once PostgreSQL has committed it. */
  private async copy(data: Buffer): Promise<void> {
    const client = await this.connection();
    const stream = client.query(copyFrom(COPY_CLICKS));
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('finish', resolve);
      stream.end(data);
    });
  }

  /**
   * A batch PostgreSQL rejected: a row it cannot take, or a retry of a batch that had committed
   * after all (its answer lost with the connection). Row by row: rows stored already are skipped,
   * a bad row is logged and dropped, the others are written.
   */
  private async copyOneByOne(data: Buffer) {
    for (let start = 0; start < data.length; ) {
      const end = data.indexOf(0x0a, start) + 1;
      const line = data.subarray(start, end);
      start = end;
      try {
        await this.copy(line);
      } catch (e) {
        if (!isDataError(e)) throw e;
        if ((e as { code?: string }).code === UNIQUE_VIOLATION) continue;
        const [id, , linkId] = line.toString('utf8').split('\t', 3);
        this.log.error(
          { err: withoutRowData(e), clickId: id, linkId },
          'click writer: row rejected by the database; dropped',
        );
      }
    }
  }

  private release() {
    const full =
      this.pendingRows > this.opts.maxPending / 2 ||
      this.pendingBytes > this.opts.maxPendingBytes / 2;
    if (full && !this.closing) return;
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}

/**
 * A database error as it may be logged: PostgreSQL quotes the offending value in its message and
 * COPY names the row in `where` (IPs, user agents, click ids of visitors), so values are masked
 * and row context dropped; the code, column and constraint are kept.
 */
export function withoutRowData(e: unknown): Record<string, unknown> {
  const err = e as {
    name?: string;
    code?: string;
    message?: string;
    column_name?: string;
    constraint_name?: string;
    table_name?: string;
  };
  return {
    type: err?.name,
    code: err?.code,
    message: String(err?.message ?? e).replace(/"(?:[^"\\]|\\.)*"/g, '"…"'),
    column: err?.column_name,
    constraint: err?.constraint_name,
    table: err?.table_name,
  };
}
