/**
 * The dashboard in a real headless Chromium (the one inside @sparticuz/chromium), driven by
 * playwright-core, against a real server and database: first-run setup → sign-in → an app → a link
 * → a click and an SDK configure and event sent as a phone would → the overview shows them with the
 * API's numbers and the debugger shows the event live → an API key → a viewer cannot edit.
 * axe-core checks every page; screenshots of every page go to test-artifacts/dashboard/.
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, newId } from '../src/lib/crypto.ts';
import { setupToken } from '../src/modules/auth/setup-token.ts';
import { ensureDashboardBuilt } from '../src/modules/dashboard/build.ts';
import { accessible, apiInPage, launchBrowser, snap } from './browser.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const ANDROID_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36';

let t: TestServer;
let browser: Browser;
let owner: BrowserContext;
let page: Page;

beforeAll(async () => {
  await ensureDashboardBuilt(pino({ level: 'silent' }));
  t = await startTestServer();
  browser = await launchBrowser();
  owner = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
  });
  page = await owner.newPage();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('the dashboard', () => {
  let appId: string;
  let linkClickUrl: string;
  let liveKey: string;

  it('first run: the sign-in page offers setup, which creates the owner and signs in', async () => {
    await page.goto(`${t.url}/`);
    await page.waitForURL('**/login');
    await accessible(page, 'login');
    await snap(page, 'login');
    await page.getByRole('link', { name: /Create the organization/ }).click();
    await page.waitForURL('**/setup');
    await page.getByLabel('Setup token').fill(setupToken(t.config));
    await page.getByLabel('Organization').fill('Acme Mobile');
    await page.getByLabel('Email').fill('owner@example.com');
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create and sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('password');
    await snap(page, 'setup-error');
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Create and sign in' }).click();
    await page.waitForURL('**/apps');
    await expect.poll(() => page.locator('.who').textContent()).toContain('owner@example.com');
  });

  it('creates an app and a link; the link shows its URLs and a QR code', async () => {
    await page.getByRole('button', { name: 'New app' }).click();
    await page.getByLabel('Name', { exact: true }).fill('FitTrack');
    await page.getByLabel('Android package').fill('com.example.fittrack');
    await page.getByLabel('iOS bundle id').fill('com.example.fittrack');
    await page.getByLabel('App Store id').fill('1234567890');
    await accessible(page, 'apps-create');
    await snap(page, 'apps-create');
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('link', { name: 'FitTrack' }).click();
    await page.waitForURL(/\/apps\/app_[0-9a-f]+$/);
    appId = page.url().split('/').pop()!;

    await page.getByRole('link', { name: 'Links' }).click();
    await page.getByRole('button', { name: 'New link' }).click();
    await page.getByLabel('Name').fill('Meta summer');
    await page.getByLabel('Campaign').fill('summer_launch');
    await page.getByRole('button', { name: 'Create link' }).click();
    const click = page.locator('dd code').first();
    await expect.poll(() => click.textContent()).toContain('/api/c/');
    linkClickUrl = (await click.textContent())!;
    expect(
      await page
        .getByRole('img', { name: /QR code of/ })
        .locator('svg')
        .count(),
    ).toBe(1);
    await accessible(page, 'links');
    await snap(page, 'links');

    await page.getByRole('link', { name: 'Settings' }).click();
    liveKey = (await page.locator('dd code').first().textContent())!;
    expect(liveKey).toMatch(/^pk_live_/);
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toContain('Waiting for the first install');
    await accessible(page, 'app-settings');
    await snap(page, 'app-settings');
  });

  it('a click and an install arrive; the debugger shows an event live; the overview has the API numbers', async () => {
    // A phone taps the link: Android goes to Play with the click id in the install referrer.
    const linkPath = new URL(linkClickUrl).pathname;
    const tap = await fetch(`${t.url}${linkPath}?fbclid=fb-e2e-1`, {
      redirect: 'manual',
      headers: { 'user-agent': ANDROID_UA },
    });
    expect(tap.status).toBe(302);
    const referrer = new URL(tap.headers.get('location')!).searchParams.get('referrer')!;

    await page.getByRole('link', { name: 'Events' }).click();
    await expect.poll(() => page.getByText('No events yet').count()).toBe(1);
    const sdk = (kind: string, body: object) =>
      fetch(`${t.url}/api/track/${kind}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-apprefer-key': liveKey,
          'x-sdk-version': 'e2e',
        },
        body: JSON.stringify(body),
      });
    const configured = await sdk('configure', {
      device_id: 'e2e-device-1',
      install_referrer: referrer,
      device_info: { platform: 'android', os_version: '14' },
    });
    expect(configured.status).toBe(200);
    expect((await configured.json()).attribution).toMatchObject({
      network: 'meta',
      match_type: 'click_id',
    });
    const sent = await sdk('event', {
      device_id: 'e2e-device-1',
      event_name: 'purchase',
      revenue: 4.99,
      currency: 'USD',
      properties: { plan: 'pro' },
    });
    expect(sent.status).toBe(200);

    // Live mode: the purchase appears without reloading the page.
    const row = page.locator('.events li', { hasText: 'purchase' });
    await row.waitFor({ timeout: 15_000 });
    await row.locator('summary').click();
    expect(await row.textContent()).toContain('"plan": "pro"');
    expect(await row.textContent()).toContain('meta');
    await accessible(page, 'events');
    await snap(page, 'events');

    await page.getByRole('link', { name: 'Overview' }).click();
    const installs = page.locator('[data-kpi="Installs"]');
    await expect.poll(() => installs.textContent()).toBe('1');
    const api = await apiInPage<{
      data: {
        kpis: { installs: number; clicks: number; attributedInstalls: number; purchases: number };
      };
    }>(page, `/api/v1/apps/${appId}/overview`);
    expect(await page.locator('[data-kpi="Clicks"]').textContent()).toBe(
      String(api.data.kpis.clicks),
    );
    expect(await page.locator('[data-kpi="Attributed installs"]').textContent()).toBe(
      String(api.data.kpis.attributedInstalls),
    );
    expect(await page.locator('[data-kpi="Purchases"]').textContent()).toBe(
      String(api.data.kpis.purchases),
    );
    expect(api.data.kpis).toMatchObject({
      clicks: 1,
      installs: 1,
      attributedInstalls: 1,
      purchases: 1,
    });
    expect(await page.locator('.chart canvas').count()).toBeGreaterThan(0);
    await accessible(page, 'overview');
    await snap(page, 'overview');

    await page.getByRole('link', { name: 'Settings' }).click();
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toContain('First install received');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Overview' }).click();
    await installs.waitFor();
    await snap(page, 'overview-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('stats by network and campaign, sortable, exported as CSV; installs with their explanation; the portfolio', async () => {
    await page.getByRole('link', { name: 'Stats' }).click();
    const row = page.locator('tbody tr', { hasText: 'summer_launch' });
    await row.waitFor();
    expect(await row.locator('th').allTextContents()).toEqual(['meta', 'summer_launch']);
    await page.getByRole('button', { name: 'Installs' }).click();
    expect(await page.locator('th[aria-sort]').textContent()).toContain('Installs');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: /Export CSV/ }).click(),
    ]);
    const csv = readFileSync((await download.path())!, 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe(
      'Network,Campaign,Clicks,Installs,Attributed,Organic,Click → install,Trials,Purchases,Revenue,Paying users',
    );
    expect(csv.slice(1)).toContain('meta,summer_launch,1,1,1,0,100.0 %,0,1,$4.99,1');
    await accessible(page, 'stats');
    await snap(page, 'stats');

    await page.getByRole('link', { name: 'Installs' }).click();
    const install = page.locator('.events li', { hasText: 'click_id' });
    await install.locator('summary').click();
    expect(await install.textContent()).toContain('meta');
    expect(await install.locator('pre').textContent()).toContain('"rule"');
    await accessible(page, 'attributions');
    await snap(page, 'attributions');

    await page.getByRole('link', { name: 'Portfolio' }).click();
    const fit = page.locator('tbody tr', { hasText: 'FitTrack' });
    await fit.waitFor();
    expect(await fit.locator('td').allTextContents()).toEqual([
      '1',
      '1',
      '100.0 %',
      '100.0 %',
      '$4.99',
      '100.0 %',
    ]);
    await accessible(page, 'portfolio');
    await snap(page, 'portfolio');
  });

  it('creates an API key, shown once, that works', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('ci');
    await page.getByLabel('Permission').selectOption('read_only');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.getByTestId('new-key').textContent())!;
    expect(key).toMatch(/^ak_live_[0-9A-Za-z]{40}$/);
    const me = await fetch(`${t.url}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    expect((await me.json()).data.permission).toBe('read_only');
    await accessible(page, 'api-keys');
    await snap(page, 'api-keys');
  });

  it('a viewer sees no create or edit controls, and the API refuses the change anyway', async () => {
    const [org] = await t.sql`select id from organizations`;
    const userId = newId('usr');
    await t.sql`insert into users (id, email, password_hash) values (${userId}, 'viewer@example.com', ${await hashPassword('viewer password 1')})`;
    await t.sql`insert into memberships (org_id, user_id, role) values (${org.id}, ${userId}, 'viewer')`;
    const ctx = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'en-US',
    });
    const v = await ctx.newPage();
    await v.goto(`${t.url}/login`);
    await v.getByLabel('Email').fill('viewer@example.com');
    await v.getByLabel('Password').fill('viewer password 1');
    await v.getByRole('button', { name: 'Sign in' }).click();
    await v.waitForURL('**/apps');
    await v.getByRole('link', { name: 'FitTrack' }).waitFor();
    expect(await v.getByRole('button', { name: 'New app' }).count()).toBe(0);
    await v.getByRole('link', { name: 'FitTrack' }).click();
    await v.getByRole('link', { name: 'Links' }).click();
    await v.locator('.link').first().waitFor();
    expect(await v.getByRole('button', { name: 'New link' }).count()).toBe(0);
    expect(await v.getByRole('button', { name: 'Archive' }).count()).toBe(0);
    await snap(v, 'viewer-links');
    const csrfToken = await v.evaluate(() => localStorage.getItem('apprefer.csrf'));
    const refused = await v.evaluate(
      async ([id, token]) =>
        (
          await fetch(`/api/v1/apps/${id}`, {
            method: 'PATCH',
            headers: { 'content-type': 'application/json', 'x-csrf-token': token! },
            body: '{"name":"x"}',
          })
        ).status,
      [appId, csrfToken] as const,
    );
    expect(refused).toBe(403);
    await ctx.close();
  });

  it('signs out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/login');
    const me = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
    expect(me).toBe(401);
  });
});
