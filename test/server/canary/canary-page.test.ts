/**
 * The status page's canary panel in a real Chromium (issue 36, item 2): the rollback button is
 * the one click (confirmed, logged with who, the canary's share to 0 at once), and a canary a
 * verdict rolls back turns the panel red with the reason.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { paceLoad } from '../../helpers/canary-origin.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startCanaryGateway, TOKEN } from './canary-fixture.ts';

test('the canary panel: Roll back from the page, then a verdict turns it red with the reason', {
  timeout: 120_000,
  skip: noChromium,
}, async () => {
  // 100: the five resets of the canary's 100 requests are sure by the exact test at any look.
  const gw = await startCanaryGateway('steps: [10, 30], step_interval: 1s, min_requests: 100');
  const profile = join(tempDir('candor-canary-page-'), 'chromium-profile');
  const browser = await launchChromium(profile, { width: 1280, height: 1000 });
  try {
    await gw.serve.waitForLines('canary step', 1);
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`http://127.0.0.1:${gw.serve.adminPort}/`);
    await page.fill('#token', TOKEN);
    await page.click('#token-submit');
    const panel = page.locator('.canary[data-route="api"]');
    await panel.waitFor({ state: 'visible' });
    assert.match(
      (await panel.textContent()) ?? '',
      /next against stable: running 10% \(step 1 of 2: 10 → 30%\)/,
    );
    assert.equal(await panel.evaluate((e) => e.classList.contains('failed')), false);

    // The one click: Roll back, confirmed.
    await panel.locator('button[data-action="rollback"]').click();
    await page.locator('#confirm').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#confirm-title').textContent(), 'Roll back the canary of route api?');
    await page.click('#confirm-ok');
    await page.locator('.canary[data-route="api"] .badge.rolled_back').waitFor({ state: 'visible' });
    assert.match((await page.locator('#notice').textContent()) ?? '', /Canary of api: rolled back at 0%\./);
    const action = gw.linesOf('canary action').find((l) => l.action === 'rollback');
    assert.match(String(action?.who), /^admin 127\.0\.0\.1:\d+$/);
    const before = gw.next.received;
    const quiet = await paceLoad(gw.base, 200, () => false, 100);
    assert.equal(quiet.bodies.stable, 100);
    assert.equal(gw.next.received, before, 'rolled back: the canary gets nothing');
    // An operator's rollback is not a verdict: the panel is not red.
    assert.equal(await panel.evaluate((e) => e.classList.contains('failed')), false);

    // Started again from the page; now the canary resets 5 % of its requests.
    await panel.locator('button[data-action="start"]').click();
    await page.click('#confirm-ok');
    await page.locator('.canary[data-route="api"] .badge.running').waitFor({ state: 'visible' });
    gw.next.resetEvery = 20;
    const worse = () => gw.linesOf('canary worse').length > 0;
    await paceLoad(gw.base, 200, worse, 6000);
    assert.ok(worse(), 'rolled back by a verdict');
    await page.locator('.canary.failed[data-route="api"]').waitFor({ state: 'visible' });
    assert.match(
      (await page.locator('.canary[data-route="api"] .reason').textContent()) ?? '',
      /^reset worse on the canary: \d+\/\d+ \(\d+\.\d\d%\) against 0\/\d+ \(0\.00%\) on the baseline \(p = /,
    );
    // The look that saw it, of the step's four (check_interval a quarter of step_interval).
    assert.match(
      (await page.locator('.canary[data-route="api"] .note').textContent()) ?? '',
      /^look \d+ of 4 at this step: unreachable: /,
    );
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await gw.stop();
  }
});
