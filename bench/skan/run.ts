/**
 * SKAN receiver benchmark: postbacks per second through `POST /.well-known/skadnetwork/report-attribution/`
 * of a real `apprefer serve` process (parse, ECDSA P-256 verification, durable batched insert) beside
 * a bare node:http server that only parses the JSON and answers 200, in the same run, alternating,
 * with autocannon (100 connections). Then SIGTERM the server and count the stored postbacks: every
 * answered one must be there.
 *
 * Each request is Apple's 4.0 vector with a distinct `transaction-id`, so every postback is a new row;
 * changing a signed field makes it fail verification, which costs the same ECDSA check as a pass
 * (the share that verifies is Apple's own vector, posted once at the start and checked at the end).
 *
 *   npx tsx bench/skan/run.ts                 # 3 rounds of 10 s per server
 *   DURATION=20 ROUNDS=5 npx tsx bench/skan/run.ts
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createSql } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { SKAN_4_0_FINE } from '../../src/modules/skan/apple-vectors.ts';
import { benchDatabase, freePort, roundsRow, startServer, waitUntilUp } from '../support.ts';

const step = (msg: string) => process.stderr.write(`… ${msg}\n`);
const DURATION = Number(process.env.DURATION ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100);
const WARMUP = 3;
const PATH = '/.well-known/skadnetwork/report-attribution/';
const TX = '6aafb7a5-0170-41b5-bbe4-fe71dedf1e30';

let n = 0;
const measure = (port: number, seconds: number) =>
  autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: PATH,
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          n++;
          const tx = `bench-${process.pid}-${n.toString(16).padStart(12, '0')}`;
          return { ...req, body: SKAN_4_0_FINE.replace(TX, tx) };
        },
      },
    ],
  });

const db = await benchDatabase('skan-bench', step);
const sql = createSql(db.url, { max: 2 });
const children: ChildProcess[] = [];
try {
  await migrate(sql, db.url);
  await sql`delete from skan_postbacks`;
  const barePort = await freePort();
  const bare = fork(path.join(import.meta.dirname, '..', 'bare-json-server.mjs'), {
    env: { ...process.env, PORT: String(barePort) },
  });
  children.push(bare);
  await waitUntilUp(barePort, bare);
  const { port, child: server, exited } = await startServer(db.url, path.join(db.dir, 'data'));
  children.push(server);
  const apple = await fetch(`http://127.0.0.1:${port}${PATH}`, {
    method: 'POST',
    body: SKAN_4_0_FINE,
  });
  if (apple.status !== 200) throw new Error(`Apple's vector answered ${apple.status}`);

  step(`warming up (${WARMUP} s each)`);
  await measure(barePort, WARMUP);
  let answered = (await measure(port, WARMUP))['2xx'];
  const bareRuns: autocannon.Result[] = [];
  const skanRuns: autocannon.Result[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    step(`round ${round}/${ROUNDS}: bare node:http, then the receiver (${DURATION} s each)`);
    bareRuns.push(await measure(barePort, DURATION));
    const r = await measure(port, DURATION);
    skanRuns.push(r);
    answered += r['2xx'];
  }
  step('SIGTERM, then counting postbacks');
  server.kill('SIGTERM');
  const code = await exited;
  const [{ stored, verified }] = await sql<{ stored: number; verified: number }[]>`
    select count(*)::int as stored, count(*) filter (where verified)::int as verified
    from skan_postbacks where dedup_key like 'bench-%' or dedup_key = ${TX}`;

  const b = roundsRow('bare node:http JSON 200', bareRuns);
  const s = roundsRow('SKAN receiver (verify + store)', skanRuns);
  console.log(
    `\nSKAN receiver benchmark: ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION} s, medians`,
  );
  console.log(b.line);
  console.log(s.line);
  console.log(
    `ratio (receiver / bare)            ${(s.rps / b.rps).toFixed(2)}   (target ≥ 3 000 postbacks/s)`,
  );
  const ok = stored >= answered + 1 && stored <= answered + 1 + CONNECTIONS * (ROUNDS + 1);
  console.log(
    `postbacks answered 200             ${answered + 1} (autocannon's count + Apple's vector)`,
  );
  console.log(
    `postbacks in the database          ${stored} (${verified} verified: Apple's vector)   ${ok && verified === 1 ? 'every answered postback stored' : 'POSTBACKS MISSING'} (server exit code ${code} after SIGTERM)`,
  );
  process.exitCode = ok && verified === 1 ? 0 : 1;
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sql.end();
  await db.close();
}
