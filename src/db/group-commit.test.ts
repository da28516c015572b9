import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/helpers.ts';
import { GroupCommit } from './group-commit.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  await t.sql`create table group_commit_probe (id text primary key)`;
});
afterAll(() => t?.close());

describe('group commit', () => {
  it('commits units handed in together, each answered with its own result', async () => {
    const commits = new GroupCommit(t.sql, { maxBatch: 10, maxConcurrent: 1 });
    const ids = Array.from({ length: 25 }, (_, i) => `ok-${i}`);
    const results = await Promise.all(
      ids.map((id) =>
        commits.run(async (tx) => {
          await tx`insert into group_commit_probe (id) values (${id})`;
          return id.toUpperCase();
        }),
      ),
    );
    expect(results).toEqual(ids.map((id) => id.toUpperCase()));
    const [{ n }] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from group_commit_probe where id like 'ok-%'`;
    expect(n).toBe(25);
  });

  it('a failing unit fails alone: its neighbours in the batch are written and answered', async () => {
    const commits = new GroupCommit(t.sql, { maxBatch: 10, maxConcurrent: 1 });
    await t.sql`insert into group_commit_probe (id) values ('taken')`;
    const unit = (id: string) => (tx: typeof t.sql) =>
      tx`insert into group_commit_probe (id) values (${id})`.then(() => id);
    const settled = await Promise.allSettled([
      commits.run(unit('n-1')),
      commits.run(unit('taken')), // a duplicate key: aborts the shared transaction
      commits.run(unit('n-2')),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason.code).toBe('23505');
    const rows = await t.sql<{ id: string }[]>`
      select id from group_commit_probe where id in ('n-1', 'n-2', 'taken') order by id`;
    expect(rows.map((r) => r.id)).toEqual(['n-1', 'n-2', 'taken']);
  });
});
