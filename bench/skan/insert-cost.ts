/**
 * What one batched insert of postbacks costs in PostgreSQL, by batch size (durable commits), to
 * tell the database's share of the receiver's time from the process's: `npx tsx bench/skan/insert-cost.ts`.
 */
import pino from 'pino';
import { createSql } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { SKAN_4_0_FINE } from '../../src/modules/skan/apple-vectors.ts';
import { toPostbackRow } from '../../src/modules/skan/postback.ts';
import { PostbackWriter } from '../../src/modules/skan/writer.ts';
import { benchDatabase } from '../support.ts';

const db = await benchDatabase('skan-insert', (l) => process.stderr.write(`… ${l}\n`));
const sql = createSql(db.url, { max: 2 });
try {
  await migrate(sql, db.url);
  const writer = new PostbackWriter(sql, pino({ level: 'silent' }));
  let n = 0;
  const row = () =>
    toPostbackRow(JSON.parse(SKAN_4_0_FINE.replace('1e30', `x${n++}`)), {
      allowDevelopmentKeys: false,
      receivedAt: new Date(),
    });
  for (const size of [1, 10, 100, 500]) {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const rows = Array.from({ length: size }, row);
      const t = performance.now();
      await Promise.all(rows.map((r) => writer.submit(r)));
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const med = times[10];
    console.log(
      `batch ${String(size).padStart(3)}: median ${med.toFixed(1)} ms per insert+commit, ${Math.round((size * 1000) / med)} postbacks/s if back to back`,
    );
  }
} finally {
  await sql.end();
  await db.close();
}
