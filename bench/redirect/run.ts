/**
 * Redirect benchmark: `/api/c/{linkId}` of a real `apprefer serve` process against a bare node:http
 * server answering the same 302, in the same run, with autocannon (100 connections); `/healthz` of the
 * same server shows the framework's own floor. Then SIGTERM
 * the server and count the clicks in the database: every answered click must be there.
 *
 *   npx tsx bench/redirect/run.ts            # 3 rounds of 10 s per server
 *   DURATION=20 ROUNDS=5 npx tsx bench/redirect/run.ts
 *   DATABASE_URL=postgres://… npx tsx bench/redirect/run.ts   # instead of an embedded PostgreSQL
 *   SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npx tsx bench/redirect/run.ts   # profile the server
 */
import autocannon from 'autocannon';
import {
  benchDatabase,
  benchOrganization,
  freePort,
  median,
  startServer,
  waitUntilUp,
} from '../support.ts';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { createSql } from '../../src/db/client.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';
import { createLink } from '../../src/modules/links/queries.ts';

const step = (msg: string) => process.stderr.write(`… ${msg}\n`);
const DURATION = Number(process.env.DURATION ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONNECTIONS = 100;
const WARMUP = 3;
const UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1';
const PATH =
  '/api/c/bench-meta?fbclid=IwAR3kLmNoPq&campaign_id=120214455667788001&campaign_name=Summer%20Launch&adset_id=2&ad_id=3&invite_code=K7P2QX';

/** CPU time (user + system, ms) of some processes, from /proc (Linux only; 0 elsewhere). */
function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
        .slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2)
        .split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      /* exited */
    }
  }
  return ticks * 10; // USER_HZ = 100
}

/** Busy CPU time of the whole machine (all cores, every process and the kernel), ms. */
function machineBusyMs(): number {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user + nice + system + irq + softirq + steal) * 10;
  } catch {
    return 0;
  }
}

/** The embedded PostgreSQL's processes (postmaster and its backends), to charge their CPU to the clicks. */
function postgresPids(pgDir: string | null): number[] {
  const pidFile = pgDir && path.join(pgDir, 'postgres', 'postmaster.pid');
  if (!pidFile || !existsSync(pidFile) || !existsSync('/proc')) return [];
  const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return (
          readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1] ===
          String(postmaster)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

/** autocannon with a distinct client IP per request (X-Forwarded-For from the trusted local proxy), so no click is a rapid repeat. */
async function measure(port: number, seconds: number, urlPath = PATH) {
  let n = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        path: urlPath,
        setupRequest: (req) => {
          n++;
          return {
            ...req,
            headers: {
              ...req.headers,
              'user-agent': UA,
              'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
            },
          };
        },
      },
    ],
  });
}

const db = await benchDatabase('redirect-bench', step);
const { dir, url: dbUrl, pgDir } = db;
const sql = createSql(dbUrl, { max: 2 });
const children: ChildProcess[] = [];
try {
  const orgId = await benchOrganization(sql, dbUrl);
  const app = await createApp(
    sql,
    orgId,
    AppCreate.parse({
      name: 'FitTrack',
      ios: { bundleId: 'com.example.fittrack', appStoreId: '1234567890' },
      android: { packageName: 'com.example.fittrack' },
    }),
  );
  await sql`delete from links where id = 'bench-meta'`;
  await createLink(sql, app, { id: 'bench-meta', network: 'meta', campaignName: 'summer_launch' });
  await sql`delete from clicks where link_id = 'bench-meta'`;

  // Both servers run side by side; the measurements alternate (bare, redirect, bare, …) so that
  // noise from other work on the machine hits both alike. Medians over the rounds are reported.
  const barePort = await freePort();
  const bare = fork(path.join(import.meta.dirname, 'bare-server.mjs'), {
    env: { ...process.env, PORT: String(barePort) },
  });
  children.push(bare);
  await waitUntilUp(barePort, bare); // the bare server answers its 302 on any path
  const { port, child: server, exited } = await startServer(dbUrl, path.join(dir, 'data'));
  children.push(server);

  step(`warming up (${WARMUP} s each)`);
  await measure(barePort, WARMUP);
  let answered = (await measure(port, WARMUP))['3xx'];
  const bareRuns: autocannon.Result[] = [];
  const redirectRuns: autocannon.Result[] = [];
  const floorRuns: autocannon.Result[] = [];
  const cpu = {
    bare: 0,
    floor: 0,
    server: 0,
    postgres: 0,
    bareRequests: 0,
    floorRequests: 0,
    serverRequests: 0,
    machineBare: 0,
    machineRedirect: 0,
  };
  for (let round = 1; round <= ROUNDS; round++) {
    step(
      `round ${round}/${ROUNDS}: bare node:http, /healthz, /api/c/{linkId} (${DURATION} s each)`,
    );
    let before = cpuMs([bare.pid!]);
    let machineBefore = machineBusyMs();
    const b = await measure(barePort, DURATION);
    cpu.bare += cpuMs([bare.pid!]) - before;
    cpu.machineBare += machineBusyMs() - machineBefore;
    cpu.bareRequests += b.requests.total;
    bareRuns.push(b);
    before = cpuMs([server.pid!]);
    const f = await measure(port, DURATION, '/healthz'); // the same server without the click work
    cpu.floor += cpuMs([server.pid!]) - before;
    cpu.floorRequests += f.requests.total;
    floorRuns.push(f);
    const pg = postgresPids(pgDir);
    before = cpuMs([server.pid!]);
    const pgBefore = cpuMs(pg);
    machineBefore = machineBusyMs();
    const r = await measure(port, DURATION);
    cpu.machineRedirect += machineBusyMs() - machineBefore;
    cpu.server += cpuMs([server.pid!]) - before;
    cpu.postgres += cpuMs(pg) - pgBefore;
    cpu.serverRequests += r.requests.total;
    redirectRuns.push(r);
    answered += r['3xx'];
  }
  step('SIGTERM, then counting clicks');
  server.kill('SIGTERM');
  const code = await exited;

  const [{ n: stored }] = await sql<
    { n: number }[]
  >`select count(*)::int as n from clicks where link_id = 'bench-meta'`;
  const failures = (rs: autocannon.Result[]) =>
    rs.reduce((n, r) => n + r.non2xx - r['3xx'] + r.errors + r.timeouts, 0);
  const row = (name: string, rs: autocannon.Result[]) => {
    const rps = median(rs.map((r) => r.requests.average));
    return {
      rps,
      line:
        `${name.padEnd(26)} ${String(Math.round(rps)).padStart(7)} req/s   p50 ${String(median(rs.map((r) => r.latency.p50))).padStart(3)} ms   p99 ${String(median(rs.map((r) => r.latency.p99))).padStart(4)} ms   ` +
        `(rounds: ${rs.map((r) => Math.round(r.requests.average)).join(', ')} req/s; not 302: ${failures(rs)})`,
    };
  };
  const b = row('bare node:http 302', bareRuns);
  const fl = row('GET /healthz (same server)', floorRuns);
  const a = row('GET /api/c/{linkId}', redirectRuns);
  console.log(
    `\nredirect benchmark: ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION} s, medians`,
  );
  console.log(b.line);
  console.log(fl.line);
  console.log(a.line);
  console.log(`ratio (redirect / bare)  ${(a.rps / b.rps).toFixed(2)}   (target ≥ 0.70)`);
  const us = (ms: number, n: number) => `${Math.round((ms * 1000) / Math.max(n, 1))} µs`;
  console.log(
    `CPU per request          bare ${us(cpu.bare, cpu.bareRequests)}; /healthz ${us(cpu.floor, cpu.floorRequests)}; redirect: server ${us(cpu.server, cpu.serverRequests)}` +
      (pgDir ? ` + PostgreSQL ${us(cpu.postgres, cpu.serverRequests)} (writing the click)` : ''),
  );
  // The load generator, the server, PostgreSQL and the kernel's loopback traffic share the cores:
  // this is the whole budget a request spends, autocannon's share included.
  console.log(
    `machine CPU per request  bare ${us(cpu.machineBare, cpu.bareRequests)}; redirect ${us(cpu.machineRedirect, cpu.serverRequests)} (all ${cpus().length} cores, every process and the kernel)`,
  );
  // autocannon stops counting with up to CONNECTIONS requests in flight, which the server still
  // answers and stores: so the database may hold up to CONNECTIONS more per measurement, never fewer.
  const ok = stored >= answered && stored <= answered + CONNECTIONS * (ROUNDS + 1);
  console.log(`clicks answered with 302 ${answered} counted by autocannon`);
  console.log(
    `clicks in the database   ${stored}   ${ok ? 'every answered click stored' : 'CLICKS MISSING'} (server exit code ${code} after SIGTERM)`,
  );
  process.exitCode = ok ? 0 : 1;
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sql.end();
  await db.close();
}
