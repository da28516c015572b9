/**
 * What planning costs configure: its candidate-clicks statement (attribution/engine.ts) run one at a
 * time on one connection of the SDK pool, with PostgreSQL's default plan choice (`auto`: it kept
 * making a custom plan at every execution) against the generic plan the pool now forces, beside a
 * bare `select 1` round trip, alternating. 300 000 stored clicks, half the lookups with a click id.
 *
 *   npx tsx bench/ingest/plans.ts            # 3 000 lookups per round, 2 rounds
 *   N=5000 npx tsx bench/ingest/plans.ts
 */
import { benchDatabase, benchOrganization } from '../support.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { createApp } from '../../src/modules/apps/queries.ts';
import { AppCreate } from '../../src/modules/apps/schemas.ts';
import { loadCandidates } from '../../src/modules/attribution/engine.ts';

const N = Number(process.env.N ?? 3000);
const CLICKS = 300_000;
const ROUNDS = 2;

const db = await benchDatabase('plans');
const admin = createSql(db.url, { max: 2 });
try {
  const orgId = await benchOrganization(admin, db.url);
  const app = await createApp(
    admin,
    orgId,
    AppCreate.parse({ name: 'FitTrack', ios: { bundleId: 'com.example.fittrack' } }),
  );
  await admin`
    insert into clicks (id, app_id, link_id, environment, clicked_at, network, campaign, fbclid, query_params, ip, user_agent, platform, os_version, language)
    select 'arc_b' || lpad(g::text, 15, '0'), ${app.id}, 'bench', 'live',
           now() - (g % (6 * 24 * 3600)) * interval '1 second', 'meta', 'summer_launch', 'IwAR' || g,
           json_build_object('fbclid', 'IwAR' || g),
           ('10.' || ((g >> 16) & 255) || '.' || ((g >> 8) & 255) || '.' || (g & 255))::inet,
           'Mozilla/5.0', case when g % 2 = 1 then 'ios' else 'android' end, '17.5', 'en-US'
    from generate_series(1, ${CLICKS}::int) g`;
  await admin`analyze`;

  const settings = {
    clickWindowHours: 168,
    probabilisticEnabled: true,
    probabilisticWindowHours: 24,
  };
  const lookup = (sql: Sql, i: number) => {
    const g = 1 + Math.floor(Math.random() * CLICKS);
    return loadCandidates(
      sql,
      app.id,
      'live',
      {
        platform: 'ios',
        osVersion: '17.5',
        language: 'en',
        ip: `10.${(g >> 16) & 255}.${(g >> 8) & 255}.${g & 255}`,
        idfa: null,
        gaid: null,
        clickIds: i % 2 ? [`arc_b${String(g).padStart(15, '0')}`] : [],
        referrer: null,
        referrerClickTs: null,
        referrerInstallTs: null,
        hasAsaToken: false,
      },
      settings,
      new Date(),
    );
  };
  const time = async (mode: string, run: (sql: Sql, i: number) => Promise<unknown>) => {
    const sql = createSql(db.url, { max: 1, keyLookups: true });
    await sql`select set_config('plan_cache_mode', ${mode}, false)`;
    for (let i = 0; i < 50; i++) await run(sql, i); // prepared, and past the five custom plans
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await run(sql, i);
    const us = ((performance.now() - t0) * 1000) / N;
    await sql.end();
    return us;
  };
  const rows: Record<string, number[]> = { bare: [], auto: [], generic: [] };
  for (let r = 0; r < ROUNDS; r++) {
    rows.bare.push(await time('auto', (sql) => sql`select 1`));
    rows.auto.push(await time('auto', lookup));
    rows.generic.push(await time('force_generic_plan', lookup));
  }
  const fmt = (xs: number[]) =>
    `${Math.min(...xs).toFixed(0)} µs (rounds: ${xs.map((x) => x.toFixed(0)).join(', ')})`;
  console.log(`\nconfigure's candidate clicks, one at a time, ${N} per round, best of ${ROUNDS}`);
  console.log(`bare select 1 round trip              ${fmt(rows.bare)}`);
  console.log(`candidates, plan chosen per execution ${fmt(rows.auto)}`);
  console.log(`candidates, generic plan (SDK pool)   ${fmt(rows.generic)}`);
} finally {
  await admin.end();
  await db.close();
}
