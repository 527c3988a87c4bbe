/**
 * The status page waits the admin API's `Retry-After` on a 429 (too many wrong tokens from this
 * address): it asked again every second, and each ask past the wait spent the guess that had come
 * back. Debian's Chromium, driven by playwright-core, against a real `candor serve`; the page's
 * clock is playwright's, so the wait is run through, not waited for.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';
import { gatewayDir, TOKEN } from './page-gateway-fixture.ts';

test('on a 429 the page asks again after its Retry-After, not every second', {
  timeout: 60_000,
  skip: noChromium,
}, async () => {
  const echo: Fault = await startEcho();
  const adminPort = await freePort();
  const { dir, path } = gatewayDir(adminPort, echo.url);
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  try {
    serve = await startServe(path, 1, { admin: true });
    // This address's ten wrong tokens, spent before the page is opened: its asks are 429s.
    for (let i = 0; i < 10; i++) {
      const wrong = await adminCall(adminPort, 'GET', '/status', { token: `wrong-${i}` });
      assert.equal(wrong.status, 401, wrong.text);
    }
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    await page.clock.install();
    // The page's asks for /status, counted as it makes them (fetch is called within the timer's turn).
    await page.addInitScript(() => {
      const scope = globalThis as unknown as { asks: number; fetch: typeof fetch };
      const fetched = scope.fetch.bind(scope);
      scope.asks = 0;
      scope.fetch = (input, init) => {
        if (String(input) === '/status') scope.asks++;
        return fetched(input, init);
      };
    });
    const retryAfters: number[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/status' && r.status() === 429)
        retryAfters.push(Number(r.headers()['retry-after']));
    });
    const asks = () => page.evaluate(() => (globalThis as unknown as { asks: number }).asks);
    await page.goto(`http://127.0.0.1:${adminPort}/`);
    await page.locator('#auth').waitFor({ state: 'visible' });
    await page.fill('#token', TOKEN);
    await page.click('#token-submit');
    await page.locator('#notice').filter({ hasText: /429/ }).waitFor();
    assert.equal(await asks(), 1);
    const wait = retryAfters[0] ?? Number.NaN;
    assert.ok(wait >= 2 && wait <= 6, `Retry-After ${wait}`);
    // A second on, and up to a second before the wait ends: no ask.
    await page.clock.runFor(1000);
    assert.equal(await asks(), 1, 'asked again a second after the 429');
    await page.clock.runFor((wait - 2) * 1000);
    assert.equal(await asks(), 1, 'asked again before the Retry-After');
    // The wait run through: one ask.
    await page.clock.runFor(1000);
    assert.equal(await asks(), 2, 'asked again once the Retry-After passed');
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
