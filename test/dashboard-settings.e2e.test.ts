/**
 * The dashboard's settings pages in a real headless Chromium against a real server and database:
 * the app form's attribution windows and qualified trials, the overview's date range and filters,
 * integrations (write-only secrets, Test Connection), the audit log with Retry, the SKAN schema
 * and postbacks, the subscription webhooks and qualified trials, the team (invite → the invitee sets a password through the link → signs in), the
 * password change, and a viewer who sees none of the edit controls. axe-core checks every page;
 * screenshots at 1280×800 and 390 wide go to test-artifacts/dashboard/.
 */
import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/modules/api-keys/keys.ts';
import { setupToken } from '../src/modules/auth/setup-token.ts';
import { ensureDashboardBuilt } from '../src/modules/dashboard/build.ts';
import { RC_TRIAL_START } from '../src/modules/webhooks/fixtures.ts';
import { accessible, apiInPage, launchBrowser, snap } from './browser.ts';
import { eventually, startTestServer, type TestServer } from './helpers.ts';

const OWNER = { email: 'owner@example.com', password: 'the owner password 1' };
const INVITEE = { email: 'new.admin@example.com', password: 'the invitee password' };
const ANDROID_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36';

let t: TestServer;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let key: string;
let appId: string;

const viewport = { width: 1280, height: 800 };

async function signIn(p: Page, who: { email: string; password: string }) {
  await p.goto(`${t.url}/login`);
  await p.getByLabel('Email').fill(who.email);
  await p.getByLabel('Password').fill(who.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForURL('**/apps');
}

/** Both widths: the desktop screenshot, then a 390-wide phone one, back to the desktop. */
async function snapBoth(p: Page, name: string) {
  await snap(p, name);
  await p.setViewportSize({ width: 390, height: 844 });
  await snap(p, `${name}-phone`);
  await p.setViewportSize(viewport);
}

/** Pages load through the API on a busy machine: give them time. */
const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 15_000, interval: 100 });
const statusText = (p: Page) => p.getByRole('status').last().textContent();
const alertText = (p: Page) => p.getByRole('alert').first().textContent();

beforeAll(async () => {
  await ensureDashboardBuilt(pino({ level: 'silent' }));
  t = await startTestServer();
  const setup = await fetch(`${t.url}/api/v1/auth/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      organizationName: 'Acme Mobile',
      ...OWNER,
      setupToken: setupToken(t.config),
    }),
  });
  expect(setup.status).toBe(200);
  const { data } = await setup.json();
  key = (
    await createApiKey(t.sql, {
      orgId: data.organization.id,
      name: 'e2e',
      permission: 'full',
      appIds: null,
      createdBy: null,
    })
  ).key;
  browser = await launchBrowser();
  ctx = await browser.newContext({ viewport, locale: 'en-US' });
  page = await ctx.newPage();
  await signIn(page, OWNER);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

const v1 = (method: string, path: string, body?: unknown) =>
  fetch(`${t.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));

describe('dashboard settings', { timeout: 120_000 }, () => {
  it('creates an app with attribution windows and qualified trials, and edits them', async () => {
    await page.getByRole('button', { name: 'New app' }).click();
    await page.getByLabel('Name', { exact: true }).fill('FitTrack');
    await page.getByLabel('Android package').fill('com.example.fittrack');
    await page.getByLabel('Click window (hours)').fill('72');
    await page.getByLabel('Probabilistic matching').uncheck();
    await page.getByLabel('Forward only qualified trials').check();
    await page.getByLabel('Delay (hours)').fill('3');
    await accessible(page, 'apps-create-rules');
    await snap(page, 'apps-create-rules');
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('link', { name: 'FitTrack' }).click();
    await page.waitForURL(/\/apps\/app_[0-9a-f]+$/);
    appId = page.url().split('/').pop()!;
    const created = await apiInPage<{ data: Record<string, unknown> }>(
      page,
      `/api/v1/apps/${appId}`,
    );
    expect(created.data.attributionSettings).toEqual({
      clickWindowHours: 72,
      probabilisticEnabled: false,
      probabilisticWindowHours: 24,
      reattributionWindowDays: 90,
    });
    expect(created.data.qualifiedTrials).toEqual({ enabled: true, delayHours: 3 });

    await page.getByRole('link', { name: 'Settings' }).click();
    await poll(() => page.getByLabel('Click window (hours)').inputValue()).toBe('72');
    expect(await page.getByText('docs/sdk-setup.md').count()).toBe(1);
    // Out of bounds: the browser's own check stops the form before it is sent (the bounds are
    // the API's; its 400s are shown on the Integrations and SKAN pages below).
    await page.getByLabel('Click window (hours)').fill('0');
    await page.getByRole('button', { name: 'Save' }).click();
    expect(
      await page
        .getByLabel('Click window (hours)')
        .evaluate((e) => (e as HTMLInputElement).validity.rangeUnderflow),
    ).toBe(true);
    expect(await page.getByText('Saved.').count()).toBe(0);
    await page.getByLabel('Click window (hours)').fill('48');
    await page.getByLabel('Re-attribution window (days)').fill('30');
    await page.getByRole('button', { name: 'Save' }).click();
    await poll(() => page.getByText('Saved.').count()).toBe(1);
    const edited = await apiInPage<{ data: { attributionSettings: Record<string, unknown> } }>(
      page,
      `/api/v1/apps/${appId}`,
    );
    expect(edited.data.attributionSettings).toMatchObject({
      clickWindowHours: 48,
      reattributionWindowDays: 30,
    });
    await accessible(page, 'app-settings-rules');
    await snapBoth(page, 'app-settings-rules');
  });

  it('configures Meta: secrets are write-only, Test Connection shows the answer', async () => {
    await page.getByRole('link', { name: 'Integrations' }).click();
    const meta = page.getByRole('form', { name: /Meta .* settings/ });
    await meta.waitFor();
    expect(await page.getByTestId('status-meta').textContent()).toBe('Not configured');
    await meta.getByLabel('Dataset ID').fill('not a number');
    await meta.getByRole('button', { name: 'Save' }).click();
    await poll(() => meta.getByRole('alert').textContent()).toContain('datasetId');
    await meta.getByLabel('Dataset ID').fill('123456789012345');
    await meta.getByLabel('Access token').fill('EAAB-secret-token-9f2c');
    await meta.getByRole('button', { name: 'Save' }).click();
    await poll(() => meta.getByText('Stored: set (…9f2c)').count()).toBe(1);
    // The token never comes back: not in the page, not in the API's answer.
    expect(await page.content()).not.toContain('EAAB-secret-token');
    const stored = await apiInPage<{ data: { settings: Record<string, unknown> } }>(
      page,
      `/api/v1/apps/${appId}/integrations/meta`,
    );
    expect(stored.data.settings.accessToken).toEqual({ set: true, last4: '9f2c' });
    expect(await meta.getByLabel('Access token').inputValue()).toBe('');

    await page.getByLabel('Forward to Meta').check();
    await expect
      .poll(async () => (await v1('GET', `/apps/${appId}/integrations/meta`)).body.data.enabled)
      .toBe(true);
    expect(await page.getByTestId('status-meta').textContent()).toBe('OK');

    // Test servers point Meta at a closed local port: the test reports the failure it met.
    await meta.getByRole('button', { name: 'Test connection' }).click();
    const result = page.getByTestId('test-meta');
    await result.waitFor();
    expect(await result.textContent()).toContain('Connection failed');
    await page.getByText('Event mapping').first().click();
    expect(await page.getByRole('row', { name: /purchase Purchase/ }).count()).toBeGreaterThan(0);
    await accessible(page, 'integrations');
    await snapBoth(page, 'integrations');
  });

  it('the audit log lists deliveries with their errors; Retry sends a failed one again', async () => {
    // A Meta click → an Android install → a purchase: one delivery to Meta, which the closed
    // port makes fail; it is then marked given up, as after 30 days of retries.
    const link = await v1('POST', `/apps/${appId}/links`, {
      network: 'meta',
      name: 'Spring',
      campaignName: 'spring_sale',
    });
    const tap = await fetch(
      `${link.body.data.urls.click}?fbclid=fb-settings-1`.replace(/^https?:\/\/[^/]+/, t.url),
      {
        redirect: 'manual',
        headers: { 'user-agent': ANDROID_UA },
      },
    );
    const referrer = new URL(tap.headers.get('location')!).searchParams.get('referrer')!;
    const sdk = (kind: string, body: object) =>
      fetch(`${t.url}/api/track/${kind}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-apprefer-key': sdkKey },
        body: JSON.stringify(body),
      });
    const sdkKey = (await v1('GET', `/apps/${appId}`)).body.data.sdkKeys.live;
    expect(
      (
        await sdk('configure', {
          device_id: 'settings-device-1',
          install_referrer: referrer,
          device_info: { platform: 'android' },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await sdk('event', {
          device_id: 'settings-device-1',
          event_name: 'purchase',
          revenue: 9.99,
          currency: 'USD',
        })
      ).status,
    ).toBe(200);
    const [delivery] = await eventually(async () => {
      const rows = await t.sql<{ id: string }[]>`
        select id from deliveries where app_id = ${appId} and event_name = 'purchase' and attempts > 0`;
      return rows.length ? rows : null;
    });
    await t.sql`update deliveries set status = 'failed', next_attempt_at = null,
      error = 'gave up after 30 days: connection refused' where id = ${delivery.id}`;

    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    const row = page.locator(`li[data-delivery="${delivery.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('gave up after 30 days');
    await page.getByLabel('Status').selectOption('delivered');
    await poll(() => page.getByText('No deliveries match these filters').count()).toBe(1);
    await page.getByLabel('Status').selectOption('failed');
    await row.waitFor();
    await accessible(page, 'audit-log');
    await snapBoth(page, 'audit-log');
    await row.getByRole('button', { name: /Retry the meta delivery of purchase/ }).click();
    await poll(() => row.getByRole('status').textContent()).toContain('Queued again');
    const [after] = await t.sql<
      { status: string }[]
    >`select status from deliveries where id = ${delivery.id}`;
    expect(['retrying', 'pending', 'failed', 'delivered']).toContain(after.status);
  });

  it('the overview takes a date range and filters by campaign, country and link', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await poll(() => page.locator('[data-kpi="Clicks"]').textContent()).toBe('1');
    const campaign = page.getByLabel('Campaign');
    await poll(() => campaign.locator('option').allTextContents()).toContain('spring_sale');
    expect(await page.getByLabel('Country').locator('option').first().textContent()).toBe(
      'All countries',
    );
    expect(await page.getByLabel('Link').locator('option').allTextContents()).toContain('Spring');
    await campaign.selectOption('spring_sale');
    await poll(() => page.locator('[data-kpi="Installs"]').textContent()).toBe('1');
    await page.getByLabel('Link').selectOption({ label: 'Spring' });
    await poll(() => page.locator('[data-kpi="Clicks"]').textContent()).toBe('1');

    // A range ending yesterday has none of today's data.
    const day = (offset: number) => {
      const d = new Date(Date.now() + offset * 86_400_000);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    };
    await page.getByLabel('From').fill(day(-10));
    await page.getByLabel('To').fill(day(-1));
    expect(await page.getByLabel('Period').inputValue()).toBe('custom');
    await poll(() => page.getByText(`${day(-10)} to ${day(-1)}`).count()).toBe(1);
    expect(await page.getByText('compared with the 10 days before').count()).toBe(1);
    await poll(() => page.locator('[data-kpi="Clicks"]').textContent()).toBe('0');
    await accessible(page, 'overview-range');
    await snapBoth(page, 'overview-range');
    await page.getByLabel('Period').selectOption('7');
    await poll(() => page.locator('[data-kpi="Clicks"]').textContent()).toBe('1');
  });

  it('SKAN: a wrong schema is refused naming the path; a good one is saved; postbacks are listed', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('link', { name: 'SKAN' }).click();
    await poll(() => page.getByTestId('skan-revision').textContent()).toContain('Revision 0');
    await poll(() => page.getByText('No postbacks yet.').count()).toBe(1);
    const editor = page.getByLabel('Schema (JSON)');
    await editor.fill(
      JSON.stringify({
        fine: [{ value: 64, when: { event: 'purchase' } }],
        coarse: [],
        lock: [],
        campaigns: {},
      }),
    );
    await page.getByRole('button', { name: 'Save schema' }).click();
    await poll(() => alertText(page)).toContain('fine.0.value');
    await editor.fill('{ not json');
    await page.getByRole('button', { name: 'Save schema' }).click();
    await poll(() => alertText(page)).toContain('Not valid JSON');
    await editor.fill(
      JSON.stringify({
        fine: [
          { value: 0, when: { event: 'install' } },
          { value: 20, when: { event: 'purchase', revenueMin: 0.01 } },
        ],
        coarse: [{ window: 0, value: 'high', when: { event: 'purchase' } }],
        lock: [],
        campaigns: { '5239': { network: 'meta', campaign: 'spring_sale' } },
      }),
    );
    await page.getByRole('button', { name: 'Save schema' }).click();
    await poll(() => statusText(page)).toContain('Saved as revision 1');
    await poll(() => page.getByTestId('skan-revision').textContent()).toContain('Revision 1');
    expect(await page.getByRole('row', { name: /5239 meta spring_sale/ }).count()).toBe(1);
    await accessible(page, 'skan');
    await snapBoth(page, 'skan');
  });

  it('subscription webhooks: the RevenueCat secret is shown once; a webhook trial is held', async () => {
    await page.goto(`${t.url}/apps/${appId}/settings`);
    await page.getByRole('link', { name: 'Subscription webhooks' }).click();
    await page.getByRole('heading', { name: 'RevenueCat' }).waitFor();
    expect(await page.locator('main').textContent()).toContain(
      `http://api.test.local/api/webhook/revenuecat/${appId}`,
    );
    await page.getByLabel('Receive RevenueCat webhooks').check();
    const shown = page.getByTestId('revenuecat-secret');
    await shown.waitFor();
    const secret = (await shown.textContent())!;
    expect(secret).toMatch(/^rcwh_/);

    // RevenueCat sends a trial start with that secret: it is held (qualified trials are on, 3 h).
    const body = JSON.parse(RC_TRIAL_START);
    body.event.purchased_at_ms = Date.now() - 60_000;
    const hook = await fetch(`${t.url}/api/webhook/revenuecat/${appId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify(body),
    });
    expect(hook.status).toBe(200);

    // Superwall: a malformed secret is refused naming the field; a good one is saved, write-only.
    const sw = page.getByRole('form', { name: 'Superwall settings' });
    await sw.getByLabel('Signing secret').fill('not-a-secret');
    await sw.getByLabel('Receive Superwall webhooks').check();
    await sw.getByRole('button', { name: 'Save' }).click();
    await poll(() => sw.getByRole('alert').textContent()).toContain('signingSecret');
    await sw.getByLabel('Signing secret').fill('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    await sw.getByRole('button', { name: 'Save' }).click();
    await poll(() => page.getByText('set (…LaSw)').count()).toBe(1);
    expect(await page.content()).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    await accessible(page, 'webhooks');
    await snapBoth(page, 'webhooks');

    await page.getByRole('link', { name: 'Qualified trials' }).click();
    const row = page.locator('tr[data-trial]');
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.first().textContent()).toContain('held');
    expect(await row.first().textContent()).toContain('fittrack_pro_annual');
    await accessible(page, 'qualified-trials');
    await snapBoth(page, 'qualified-trials');

    // The overview counts the webhook's trial, and shows qualified trials since the feature is on.
    await page.getByRole('link', { name: 'Overview' }).click();
    await poll(() => page.locator('[data-kpi="Trials"]').textContent()).toBe('1');
    expect(await page.locator('[data-kpi="Qualified trials"]').textContent()).toBe('0');
  });

  it('team: an invitation link lets the invitee set a password and sign in; roles change', async () => {
    await page.getByRole('link', { name: 'Team' }).click();
    await page.getByLabel('Email').fill(INVITEE.email);
    await page.getByLabel('Role', { exact: true }).selectOption('admin');
    await page.getByRole('button', { name: 'Create invitation link' }).click();
    const link = (await page.getByTestId('invite-link').textContent())!;
    expect(link).toMatch(/^http:\/\/api\.test\.local\/invite#inv_[A-Za-z0-9]+\.[A-Za-z0-9]+$/);
    await poll(() => page.getByRole('row', { name: new RegExp(INVITEE.email) }).count()).toBe(1);
    await accessible(page, 'team');
    await snapBoth(page, 'team');

    const other = await browser.newContext({ viewport, locale: 'en-US' });
    const p = await other.newPage();
    await p.goto(`${t.url}${new URL(link).pathname}${new URL(link).hash}`);
    await poll(() => p.locator('main').textContent()).toContain('Acme Mobile');
    expect(await p.locator('main').textContent()).toContain(INVITEE.email);
    await accessible(p, 'invite');
    await snap(p, 'invite');
    await p.getByLabel('Choose a password').fill(INVITEE.password);
    await p.getByLabel('Password again').fill('something else entirely');
    await p.getByRole('button', { name: 'Join and sign in' }).click();
    await poll(() => alertText(p)).toContain('differ');
    await p.getByLabel('Password again').fill(INVITEE.password);
    await p.getByRole('button', { name: 'Join and sign in' }).click();
    await p.waitForURL('**/apps');
    await poll(() => p.locator('.who').textContent()).toContain(INVITEE.email);
    expect(await p.locator('.who').textContent()).toContain('admin');
    // The link worked once.
    await p.goto(`${t.url}/invite${new URL(link).hash}`);
    await poll(() => alertText(p)).toContain('not valid');
    // Signs out and in again with the password they chose.
    await p.goto(`${t.url}/apps`);
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.waitForURL('**/login');
    await signIn(p, INVITEE);
    await other.close();

    // The owner makes the new admin a viewer.
    await page.reload();
    await page.getByLabel(`Role of ${INVITEE.email}`).selectOption('viewer');
    await page.getByRole('button', { name: `Save role of ${INVITEE.email}` }).click();
    await poll(() => statusText(page)).toContain(`${INVITEE.email} is now viewer`);
    // The owner cannot change their own role: no control for it.
    expect(await page.getByLabel(`Role of ${OWNER.email}`).count()).toBe(0);
  });

  it('password change: the current one is needed; other sessions are signed out', async () => {
    const elsewhere = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(OWNER),
    });
    const cookie = elsewhere.headers.get('set-cookie')!.split(';')[0];
    await page.getByRole('link', { name: 'Password' }).click();
    await page.getByLabel('Current password').fill('not my password');
    await page.getByLabel('New password', { exact: true }).fill('the new owner password');
    await page.getByLabel('New password again').fill('the new owner password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await poll(() => alertText(page)).toContain('currentPassword');
    await accessible(page, 'password');
    await snapBoth(page, 'password');
    await page.getByLabel('Current password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Change password' }).click();
    // The session of the setup call and the one signed in elsewhere.
    await poll(() => statusText(page)).toContain('2 other sessions were signed out');
    const gone = await fetch(`${t.url}/api/v1/me`, { headers: { cookie } });
    expect(gone.status).toBe(401);
    // This browser stays signed in.
    expect(
      (await apiInPage<{ data: { user: { email: string } } }>(page, '/api/v1/me')).data.user.email,
    ).toBe(OWNER.email);
    OWNER.password = 'the new owner password';
  });

  it('a viewer sees the new pages without any edit control', async () => {
    const vctx = await browser.newContext({ viewport, locale: 'en-US' });
    const v = await vctx.newPage();
    await signIn(v, INVITEE);
    await v.getByRole('link', { name: 'Team' }).click();
    await v.getByRole('row', { name: new RegExp(OWNER.email) }).waitFor();
    expect(await v.getByRole('form', { name: 'Invite a member' }).count()).toBe(0);
    expect(await v.getByRole('combobox').count()).toBe(0);
    expect(await v.getByRole('button', { name: /Remove|Revoke/ }).count()).toBe(0);
    await accessible(v, 'team-viewer');
    await snap(v, 'team-viewer');

    await v.goto(`${t.url}/apps/${appId}/settings`);
    await v.getByRole('heading', { name: 'SDK keys' }).waitFor();
    expect(await v.getByLabel('Click window (hours)').count()).toBe(0);

    await v.getByRole('link', { name: 'Integrations' }).click();
    await v.getByRole('heading', { name: /Meta/ }).waitFor();
    expect(await v.getByRole('textbox').count()).toBe(0);
    expect(await v.getByRole('checkbox').count()).toBe(0);
    expect(await v.getByRole('button', { name: /Save|Test connection/ }).count()).toBe(0);
    expect(await v.locator('main').textContent()).toContain('set (…9f2c)');
    await accessible(v, 'integrations-viewer');
    await snap(v, 'integrations-viewer');

    await v.getByRole('link', { name: 'Subscription webhooks' }).click();
    await v.getByRole('heading', { name: 'Superwall' }).waitFor();
    expect(await v.getByRole('checkbox').count()).toBe(0);
    expect(await v.getByRole('button', { name: /Save|Generate/ }).count()).toBe(0);

    await v.getByRole('link', { name: 'Audit log', exact: true }).click();
    await v.locator('li[data-delivery]').first().waitFor();
    expect(await v.getByRole('button', { name: /Retry/ }).count()).toBe(0);

    await v.getByRole('link', { name: 'SKAN' }).click();
    await v.getByTestId('skan-revision').waitFor();
    expect(await v.getByLabel('Schema (JSON)').count()).toBe(0);
    expect(await v.getByRole('button', { name: 'Save schema' }).count()).toBe(0);

    // A viewer still changes their own password.
    await v.getByRole('link', { name: 'Password' }).click();
    expect(await v.getByRole('button', { name: 'Change password' }).count()).toBe(1);
    // And the API refuses the team change the page does not offer.
    const csrfToken = await v.evaluate(() => localStorage.getItem('apprefer.csrf'));
    const refused = await v.evaluate(
      async (token) =>
        (
          await fetch('/api/v1/team/invitations', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': token! },
            body: '{"email":"x@example.com","role":"member"}',
          })
        ).status,
      csrfToken,
    );
    expect(refused).toBe(403);
    await vctx.close();
  });
});
