/**
 * The real headless Chromium inside the @sparticuz/chromium npm package, driven by playwright-core
 * (no download at install): for the e2e tests (test/browser.ts) and the dashboard benchmark.
 */
import sparticuz from '@sparticuz/chromium';
import { type Browser, chromium } from 'playwright-core';

/**
 * The package's flags are made for serverless hosts; these three would weaken what is tested here
 * (one process for every context, and no same-origin policy).
 */
const UNWANTED_FLAGS = new Set([
  '--single-process',
  '--disable-web-security',
  '--allow-running-insecure-content',
]);

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: await sparticuz.executablePath(),
    args: sparticuz.args.filter((a) => !UNWANTED_FLAGS.has(a)),
    headless: true,
  });
}
