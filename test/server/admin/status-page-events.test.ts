/**
 * The deploy timeline on the status page, in a real browser (Debian's Chromium, driven by
 * playwright-core) against a real `candor serve --workers 2` (issue 36): after a reload, the
 * failure chart carries a marker for it, with its words on hover, and the changes list names it.
 * Before any answer, the chart's peak says 0 a second (it said 1, the scale of its empty bars).
 * A worker killed with SIGKILL is such a change too, in its own colour.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { launchChromium, noChromium, openStatusPage } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';
import { timelineConfig, timelineDir } from './timeline-fixture.ts';

const TOKEN = 'status-page-events-token-0123456789';

const configText = (adminPort: number, tokenFile: string, target: string, extra: boolean) =>
  timelineConfig({ name: 'page-timeline', adminPort, tokenFile, target, extra });

test('the status page: a reload is a marker on the failure chart and a row of the changes list', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const { dir, tokenFile, configPath: path } = timelineDir('candor-page-events-', TOKEN);
  const echo: Fault = await startEcho();
  const adminPort = await freePort();
  writeFileSync(path, configText(adminPort, tokenFile, echo.url, false));
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 1000 });
  try {
    serve = await startServe(path, 2, { admin: true });
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    // No answer yet: the chart's peak is 0 a second, not the 1 its bars are scaled by.
    await page.locator('#series td.empty').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#chart svg > text').last().textContent(), 'peak 0/s');
    for (let i = 0; i < 5; i++) await request(`http://127.0.0.1:${serve.port}`, { path: '/app' });
    await page.locator('#events td.empty').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#chart line.event').count(), 0, 'no change, no marker');

    writeFileSync(path, configText(adminPort, tokenFile, echo.url, true));
    const reload = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
    assert.equal(reload.status, 200, JSON.stringify(reload.body));
    const hash = (reload.body as { config_hash: string }).config_hash;

    const marker = page.locator('#chart line.event[data-kind="reload"]');
    await marker.first().waitFor({ state: 'attached' });
    assert.equal(await marker.count(), 1);
    assert.match(
      (await marker.locator('title').textContent()) ?? '',
      new RegExp(`reload ${hash} \\(route extra added\\)$`),
    );
    // The marker stands where the newest seconds are drawn: at the right of the chart.
    const x = Number(await marker.getAttribute('x1'));
    assert.ok(x > 800 && x <= 900, `x ${x} of 900`);
    const row = page.locator('#events tr[data-kind="reload"]');
    await row.waitFor({ state: 'visible' });
    assert.equal(await row.locator('td.summary').textContent(), `reload ${hash} (route extra added)`);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
  }
});

test('the status page: a worker killed with SIGKILL is a marker on the failure chart and a row of the changes list, its pid and signal in words', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const { dir, tokenFile, configPath: path } = timelineDir('candor-page-worker-', TOKEN);
  const echo: Fault = await startEcho();
  const adminPort = await freePort();
  writeFileSync(path, configText(adminPort, tokenFile, echo.url, false));
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 1000 });
  try {
    serve = await startServe(path, 2, { admin: true });
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    await page.locator('#events td.empty').waitFor({ state: 'visible' });
    const pids = async () =>
      (
        (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body.workers as { pid: number }[]
      ).map((w) => w.pid);
    const [killed, other] = await pids();
    process.kill(killed, 'SIGKILL');
    await serve.waitForLines('listening', 3, 15_000);
    const replacement = (await pids()).find((pid) => pid !== other);
    const words = `worker ${killed} ended by SIGKILL (its connections cut); replaced by worker ${replacement}`;

    const row = page.locator('#events tr[data-kind="worker"]');
    await row.waitFor({ state: 'visible' });
    assert.equal(await row.count(), 1);
    assert.equal(await row.locator('td.summary').textContent(), words);
    const marker = page.locator('#chart line.event[data-kind="worker"]');
    assert.equal(await marker.count(), 1);
    const hover = (await marker.locator('title').textContent()) ?? '';
    assert.ok(hover.endsWith(` ${words}`), hover);
    // Its own colour, not the grey of a kind the page does not know.
    assert.notEqual(await marker.getAttribute('stroke'), '#57606a');
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
  }
});
