import { existsSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';

/** Debian's Chromium, driven by playwright-core (which downloads no browser). */
export const CHROMIUM = '/usr/bin/chromium';

/** A test's `skip` when the machine has no Chromium: what to install. */
export const noChromium: string | false = existsSync(CHROMIUM)
  ? false
  : `no ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium) to run the pages in a browser`;

/**
 * A headless Chromium with a profile of its own in `profile`, as this machine allows it: no
 * sandbox (root), and none of its background connections (refused by a closed network, many at
 * a time).
 */
export async function launchChromium(
  profile: string,
  viewport?: { width: number; height: number },
  /** Take any server certificate (a gateway on the fault kit's test CA, which Chromium does not trust). */
  anyCertificate = false,
): Promise<BrowserContext> {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ...(viewport === undefined ? {} : { viewport }),
    ...(anyCertificate ? { ignoreHTTPSErrors: true } : {}),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 30_000,
  });
}

/**
 * The admin listener's status page in `browser`, signed in with `token` and showing its data:
 * the page, and the script errors it raises from then on (a test ends by finding none).
 */
export async function openStatusPage(
  browser: BrowserContext,
  adminPort: number,
  token: string,
): Promise<{ page: Page; pageErrors: string[] }> {
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(15_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`http://127.0.0.1:${adminPort}/`);
  await page.locator('#auth').waitFor({ state: 'visible' });
  await page.fill('#token', token);
  await page.click('#token-submit');
  await page.locator('#data').waitFor({ state: 'visible' });
  return { page, pageErrors };
}
