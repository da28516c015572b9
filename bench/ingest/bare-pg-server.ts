// A second baseline: bare node:http that commits each POST body to PostgreSQL before answering,
// with the same group commit as the platform (concurrent requests share one insert and one commit,
// two batches in flight). The floor of "answered only once durable" on this machine: what HTTP
// plus a durable write cost without dedup, indexes, devices or analytics.
// (Forked by run.ts, so it runs under tsx like its parent and can use the platform's client.)
import { createServer } from 'node:http';
import { createSql } from '../../src/db/client.ts';

type Pending = { body: string; done: () => void; fail: () => void };

const sql = createSql(process.env.DATABASE_URL!, { max: 4 });
await sql`create table if not exists bare_events (id bigserial primary key, body jsonb not null)`;

const MAX_IN_FLIGHT = 2;
const queue: Pending[] = [];
let active = 0;
function kick() {
  while (active < MAX_IN_FLIGHT && queue.length) {
    const batch = queue.splice(0, 1000);
    active++;
    sql`insert into bare_events (body) select unnest(${batch.map((b) => b.body)}::jsonb[])`
      .then(
        () => batch.forEach((b) => b.done()),
        () => batch.forEach((b) => b.fail()),
      )
      .finally(() => {
        active--;
        kick();
      });
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const answer = (status: number, text: string) => {
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    queue.push({
      body,
      done: () => answer(200, '{"ok":true}'),
      fail: () => answer(503, '{"error":{"code":"service_unavailable"}}'),
    });
    kick();
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => sql.end().then(() => process.exit(0))));
