import type { Logger } from 'pino';
import type { Sql } from '../../db/client.ts';

/** One clicks row as inserted (columns of 0002_links_clicks.sql). */
export type ClickRow = {
  id: string; app_id: string; link_id: string; environment: 'live' | 'sandbox'; clicked_at: Date;
  network: string; campaign: string | null; campaign_id: string | null; campaign_name: string | null;
  ad_group_id: string | null; ad_group_name: string | null; ad_id: string | null; ad_name: string | null; keyword: string | null;
  fbclid: string | null; gclid: string | null; gbraid: string | null; wbraid: string | null; ttclid: string | null;
  utm_source: string | null; utm_medium: string | null; utm_campaign: string | null; utm_term: string | null; utm_content: string | null;
  idfa: string | null; gaid: string | null; query_params: Record<string, string>;
  ip: string | null; user_agent: string | null; platform: string; os_version: string | null; device_model: string | null;
  language: string | null; country: string | null; referer: string | null;
  source: 'redirect' | 'landing'; is_bot: boolean; bot_reason: string | null; duplicate_of: string | null;
};

const COLUMNS = [
  'id', 'app_id', 'link_id', 'environment', 'clicked_at', 'network', 'campaign', 'campaign_id', 'campaign_name',
  'ad_group_id', 'ad_group_name', 'ad_id', 'ad_name', 'keyword', 'fbclid', 'gclid', 'gbraid', 'wbraid', 'ttclid',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'idfa', 'gaid', 'query_params',
  'ip', 'user_agent', 'platform', 'os_version', 'device_model', 'language', 'country', 'referer',
  'source', 'is_bot', 'bot_reason', 'duplicate_of',
] as const satisfies readonly (keyof ClickRow)[];

/**
 * A batch is one statement with one parameter, the rows as a JSON array: PostgreSQL parses it in
 * C and converts each field with the column's own input function, the statement text never
 * changes (prepared once), and ON CONFLICT makes a retried batch that did commit harmless.
 */
const INSERT_BATCH = `insert into clicks (${COLUMNS.join(', ')})
  select ${COLUMNS.join(', ')} from json_populate_recordset(null::clicks, $1::text::json)
  on conflict (id) do nothing`;

export type ClickWriterOptions = {
  /** Rows per INSERT. */
  batchSize: number;
  /** How long a click may wait for companions before its batch is written. */
  flushIntervalMs: number;
  /** Clicks held in memory before callers are made to wait (backpressure). */
  maxPending: number;
  /** The same bound in (approximate) bytes, so that clicks with long URLs cannot exhaust memory. */
  maxPendingBytes: number;
  /** On shutdown, how long to keep retrying a failing database before giving up (logged). */
  closeTimeoutMs: number;
};

export const DEFAULT_WRITER_OPTIONS: ClickWriterOptions = { batchSize: 500, flushIntervalMs: 20, maxPending: 20_000, maxPendingBytes: 64 * 1024 * 1024, closeTimeoutMs: 20_000 };

// SQLSTATE classes where retrying the same rows cannot help: data exceptions, constraint violations.
const isDataError = (e: unknown) => /^(22|23)/.test(String((e as { code?: string }).code ?? ''));

/**
 * Writes clicks in batches in the background, so a redirect never waits for the database.
 * Clicks stay in memory until their INSERT commits: a failing database is retried with backoff
 * (never dropped), `close()` drains everything, and when `maxPending` clicks (or `maxPendingBytes`) are waiting `add()`
 * returns a promise that resolves only when the queue has room, so requests slow down instead of
 * memory growing without bound.
 */
export class ClickWriter {
  private queue: ClickRow[] = [];
  private sizes: number[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private waiters: (() => void)[] = [];
  private closing = false;
  private draining = 0;
  private failures = 0;
  /** Clicks written so far (for logs and benchmarks). */
  written = 0;

  private opts: ClickWriterOptions;

  constructor(private sql: Sql, private log: Logger, opts: Partial<ClickWriterOptions> = {}) {
    this.opts = { ...DEFAULT_WRITER_OPTIONS, ...opts };
  }

  get pending() { return this.queue.length; }

  /** Queues a click (`approxBytes`: its rough size in memory). Returns a promise only when the caller must wait for room. */
  add(row: ClickRow, approxBytes = 2_048): void | Promise<void> {
    this.queue.push(row);
    this.sizes.push(approxBytes);
    this.pendingBytes += approxBytes;
    if (this.queue.length >= this.opts.batchSize) this.kick();
    else if (!this.timer && !this.pumping) this.timer = setTimeout(() => this.kick(), this.opts.flushIntervalMs);
    if (this.queue.length > this.opts.maxPending || this.pendingBytes > this.opts.maxPendingBytes) {
      return new Promise((resolve) => this.waiters.push(resolve));
    }
  }

  /** Writes everything queued so far. */
  async flush(): Promise<void> {
    this.draining++;
    try {
      while (this.queue.length || this.pumping) {
        this.kick();
        await this.pumping;
      }
    } finally {
      this.draining--;
    }
  }

  /** Shutdown: drain the queue, retrying a failing database until `closeTimeoutMs`. */
  async close(): Promise<void> {
    this.closing = true;
    this.draining++;
    const deadline = Date.now() + this.opts.closeTimeoutMs;
    while (this.queue.length || this.pumping) {
      if (Date.now() > deadline) {
        this.log.error({ lost: this.queue.length }, 'click writer: database unavailable at shutdown; clicks lost');
        this.queue = [];
        this.sizes = [];
        this.pendingBytes = 0;
        break;
      }
      this.kick();
      await this.pumping;
    }
    this.release();
  }

  private kick() {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.pumping || !this.queue.length) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
      // Rows that arrived meanwhile wait for companions: fewer, larger commits cost PostgreSQL far less.
      if (this.queue.length && !this.timer) this.timer = setTimeout(() => this.kick(), this.opts.flushIntervalMs);
    });
  }

  private async pump() {
    while (this.queue.length) {
      const batch = this.queue.slice(0, this.opts.batchSize);
      try {
        await this.insert(batch).catch(async (e) => {
          if (!isDataError(e)) throw e;
          await this.insertOneByOne(batch);
        });
        this.failures = 0;
      } catch (e) {
        // Database unreachable or overloaded: keep the rows and retry with backoff.
        this.failures++;
        const delay = Math.min(100 * 2 ** Math.min(this.failures, 5), 3_000);
        this.log.error({ err: e, pending: this.queue.length, retryInMs: delay }, 'click writer: insert failed; retrying');
        await new Promise((r) => setTimeout(r, this.closing ? Math.min(delay, 500) : delay));
        if (this.closing) return; // let close() check its deadline
        continue;
      }
      this.queue.splice(0, batch.length);
      for (const size of this.sizes.splice(0, batch.length)) this.pendingBytes -= size;
      this.written += batch.length;
      this.release();
      if (this.queue.length < this.opts.batchSize && !this.draining) return;
    }
  }

  private insert(rows: ClickRow[]) {
    return this.sql.unsafe(INSERT_BATCH, [JSON.stringify(rows)], { prepare: true });
  }

  /** A batch with a row PostgreSQL rejects: write the others, log and drop the bad one. */
  private async insertOneByOne(rows: ClickRow[]) {
    for (const row of rows) {
      try {
        await this.insert([row]);
      } catch (e) {
        if (!isDataError(e)) throw e;
        this.log.error({ err: e, clickId: row.id, linkId: row.link_id }, 'click writer: row rejected by the database; dropped');
      }
    }
  }

  private release() {
    const full = this.queue.length > this.opts.maxPending / 2 || this.pendingBytes > this.opts.maxPendingBytes / 2;
    if (full && !this.closing) return;
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
