/**
 * Dashboard first load: how long the overview page of an app takes in real headless Chromium,
 * from navigation until its KPI cards show the API's numbers and the chart is drawn, on the
 * database of the analytics benchmark (10 million events, 1 million installs, 5 apps, 90 days).
 * Beside it, in the same run, the bare `GET /healthz` round trip from the same browser.
 *
 *   BENCH_DIR=/tmp/ar-analytics npx tsx bench/analytics/run.ts   # seeds once (≈ 10 min), kept
 *   BENCH_DIR=/tmp/ar-analytics npx tsx bench/dashboard/first-load.ts
 *
 * "Cold": a new browser context each time, signed in through the API, so nothing is cached: the
 * HTML, JavaScript and CSS, then the API calls.
 * "Warm": the same context navigating again (assets from the cache, the API calls again).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createSql } from '../../src/db/client.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { buildServer } from '../../src/http/server.ts';
import { ensureDashboardBuilt } from '../../src/modules/dashboard/build.ts';
import { MODULES } from '../../src/modules/index.ts';
import { createServices } from '../../src/runtime.ts';
import { launchChromium } from '../../test/chromium.ts';

const RUNS = Number(process.env.RUNS ?? 10);
const dir = process.env.BENCH_DIR;
const marker = dir ? path.join(dir, 'seeded.json') : '';
if (!dir || !existsSync(marker)) {
  console.error('Seed first: BENCH_DIR=/tmp/ar-analytics npx tsx bench/analytics/run.ts');
  process.exit(2);
}
const seeded = JSON.parse(readFileSync(marker, 'utf8')) as { appIds: string[] };
const log = (...a: unknown[]) => process.stderr.write(`… ${a.join(' ')}\n`);

const pg = await startEmbeddedPostgres(dir, { extraFlags: ['-c', 'shared_buffers=1GB'] });
const sql = createSql(pg.url, { max: 10 });
const browser = await launchChromium();
try {
  await migrate(sql, pg.url);
  await ensureDashboardBuilt(pino({ level: 'silent' }));
  const config = loadConfig({
    DATABASE_URL: pg.url,
    DATA_DIR: dir,
    SECRET_KEY: 'bench-dashboard-secret-0123456789abcdef',
    LOG_LEVEL: 'silent',
    API_RATE_LIMIT_PER_MINUTE: '1000000',
    LOGIN_RATE_LIMIT_PER_MINUTE: '1000', // a sign-in per cold run
  });
  const app = await buildServer(createServices(config, sql, pino({ level: 'silent' })), MODULES);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  /** A new browser context with a session (signed in through the API: nothing loaded, nothing cached). */
  const signedIn = async () => {
    // A locale as a real browser reports it (this machine's POSIX locale is not a valid tag).
    const ctx = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'en-US',
    });
    const r = await ctx.request.post(`${base}/api/v1/auth/login`, {
      data: { email: 'bench@example.com', password: 'correct horse battery' },
    });
    if (!r.ok()) throw new Error(`sign-in failed: ${r.status()}`);
    return { ctx, page: await ctx.newPage() };
  };
  /** Navigation → KPI cards with numbers and the chart's canvas drawn. */
  const overview = async (page: Awaited<ReturnType<typeof signedIn>>['page'], appId: string) => {
    const t = performance.now();
    await page.goto(`${base}/apps/${appId}`);
    await page.locator('[data-kpi="Installs"]').filter({ hasText: /\d/ }).waitFor();
    await page.locator('.uplot canvas').first().waitFor();
    return performance.now() - t;
  };

  log(`warming up: ${seeded.appIds.length} apps`);
  const warm = await signedIn();
  for (const id of seeded.appIds) await overview(warm.page, id);

  const cold: number[] = [];
  const again: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const appId = seeded.appIds[i % seeded.appIds.length];
    const s = await signedIn(); // a fresh context: nothing cached
    cold.push(await overview(s.page, appId));
    await s.ctx.close();
    again.push(await overview(warm.page, appId));
    const t = performance.now();
    await warm.page.evaluate(async () => (await fetch('/healthz')).status);
    bare.push(performance.now() - t);
  }
  const [{ events }] = await sql<{ events: string }[]>`select count(*)::text as events from events`;
  const q = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
  const line = (name: string, xs: number[]) =>
    `${name.padEnd(44)} p50 ${q(xs, 0.5).toFixed(0).padStart(5)} ms   max ${Math.max(...xs)
      .toFixed(0)
      .padStart(5)} ms`;
  console.log(
    `\nDashboard first load: the overview of one of ${seeded.appIds.length} apps, ${Number(events).toLocaleString('en-US')} events, ${RUNS} runs`,
  );
  console.log(line('bare GET /healthz from the page', bare));
  console.log(line('overview, cold (new context, empty cache)', cold));
  console.log(line('overview, warm (assets cached)', again));
  console.log(`target: first load under 1 000 ms`);
  await app.close();
} finally {
  await browser.close();
  await sql.end({ timeout: 5 });
  await pg.stop();
}
