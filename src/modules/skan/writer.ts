import type { Logger } from 'pino';
import type { Sql } from '../../db/client.ts';
import { retryRowsAlone } from '../../db/errors.ts';
import { Batcher } from '../../lib/batcher.ts';
import type { PostbackRow } from './postback.ts';

const MAX_BATCH = 500;
/**
 * Inserts in flight at once: while one waits for its commit, the next batch is already being
 * written (PostgreSQL groups concurrent commits into one flush).
 */
const MAX_IN_FLIGHT = 3;
const COLUMNS = [
  'id',
  'kind',
  'dedup_key',
  'app_store_id',
  'version',
  'verified',
  'unverified_reason',
  'key_id',
  'sandbox',
  'ad_network_id',
  'source_identifier',
  'campaign_id',
  'source_app_id',
  'source_domain',
  'redownload',
  'fidelity_type',
  'did_win',
  'conversion_type',
  'window_index',
  'fine_value',
  'coarse_value',
  'country_code',
  'raw',
  'received_at',
] as const;

const TYPES: Record<(typeof COLUMNS)[number], string> = {
  id: 'text',
  kind: 'text',
  dedup_key: 'text',
  app_store_id: 'text',
  version: 'text',
  verified: 'boolean',
  unverified_reason: 'text',
  key_id: 'text',
  sandbox: 'boolean',
  ad_network_id: 'text',
  source_identifier: 'text',
  campaign_id: 'integer',
  source_app_id: 'text',
  source_domain: 'text',
  redownload: 'boolean',
  fidelity_type: 'integer',
  did_win: 'boolean',
  conversion_type: 'text',
  window_index: 'integer',
  fine_value: 'integer',
  coarse_value: 'text',
  country_code: 'text',
  raw: 'jsonb',
  received_at: 'timestamptz',
};
const RECORD_TYPES = COLUMNS.map((c) => `${c} ${TYPES[c]}`).join(', ');

const UPDATE_SET = COLUMNS.filter((c) => c !== 'id' && c !== 'received_at')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');

/**
 * Stores postbacks in batches: postbacks that arrive while the inserts in flight run queue up and
 * go together in the next statement, so a burst costs one commit per batch instead of one per
 * postback. A receiver answers only once its postback is committed (Apple's device stops retrying
 * at 200).
 *
 * Dedup: one row per `transaction-id` / `postback-identifier` and framework. A verified copy
 * replaces an unverified one with the same key (so a forged postback posted first cannot
 * shadow Apple's), never the other way round.
 */
export class PostbackWriter {
  private readonly batcher: Batcher<PostbackRow>;

  constructor(
    private sql: Sql,
    private log: Logger,
  ) {
    this.batcher = new Batcher<PostbackRow>((rows) => this.write(rows), {
      maxBatch: MAX_BATCH,
      maxConcurrent: MAX_IN_FLIGHT,
      retryAlone: retryRowsAlone(this.log, 'skan postback batch failed; retrying one by one'),
    });
  }

  submit(row: PostbackRow): Promise<void> {
    return this.batcher.submit(row);
  }

  /** Waits for every queued postback to be written (server close). */
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  private async write(rows: PostbackRow[]) {
    // One row per dedup key within the statement (ON CONFLICT may touch a row once): the verified one wins.
    const byKey = new Map<string, PostbackRow>();
    const unkeyed: PostbackRow[] = [];
    for (const r of rows) {
      if (r.dedup_key === null) {
        unkeyed.push(r);
        continue;
      }
      const k = `${r.kind}\n${r.dedup_key}`;
      const seen = byKey.get(k);
      if (!seen || (!seen.verified && r.verified)) byKey.set(k, r);
    }
    // One parameter: the rows as a JSON array, expanded by PostgreSQL (jsonb_to_recordset). Far
    // cheaper than a parameter per value (24 columns × hundreds of rows), measured in bench/skan.
    // Keys in one order across concurrent batches, so two inserts of the same keys never deadlock.
    const unique = [...byKey.values()]
      .sort((a, b) => (a.dedup_key! < b.dedup_key! ? -1 : 1))
      .concat(unkeyed);
    await this.sql`
      insert into skan_postbacks (${this.sql.unsafe(COLUMNS.join(', '))})
      select ${this.sql.unsafe(COLUMNS.join(', '))}
      from jsonb_to_recordset(${JSON.stringify(unique)}::text::jsonb) as x(${this.sql.unsafe(RECORD_TYPES)})
      on conflict (kind, dedup_key) where dedup_key is not null do update set ${this.sql.unsafe(UPDATE_SET)}
      where not skan_postbacks.verified and excluded.verified`;
  }
}
