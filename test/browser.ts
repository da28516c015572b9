/**
 * Real headless Chromium for the dashboard's end-to-end tests: the one inside @sparticuz/chromium,
 * driven by playwright-core (no download at install), with axe-core and screenshots.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { launchChromium } from './chromium.ts';

export const ARTIFACTS = path.resolve('test-artifacts/dashboard');
const AXE = readFileSync(path.resolve('node_modules/axe-core/axe.min.js'), 'utf8');

/** Chromium, with the screenshot folder ready. */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return launchChromium();
}

/** axe-core on the current page: no serious or critical violation. */
export async function accessible(p: Page, name: string) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern: the app itself
  // runs under its real policy.
  await p.evaluate(AXE);
  const violations = await p.evaluate(async () => {
    const r = await (
      window as unknown as {
        axe: {
          run: () => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }>;
        };
      }
    ).axe.run();
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.nodes.length})`);
  });
  expect(violations, `axe on ${name}`).toEqual([]);
}

export async function snap(p: Page, name: string) {
  await p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The API as the signed-in browser sees it (session cookie), to compare numbers with the page. */
export const apiInPage = <T>(p: Page, url: string) =>
  p.evaluate(async (u) => (await fetch(u)).json(), url) as Promise<T>;
