/**
 * The status page as its viewer meets it, in a real browser (Debian's Chromium, driven by
 * playwright-core) against a real `candor serve`: a console without errors (the browser's own
 * ask for an icon included), times of another day with their date, and the keyboard focus kept
 * on a button across the looks that redraw its table.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { launchChromium, noChromium, openStatusPage } from '../../helpers/chromium.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';
import { gatewayDir, TOKEN } from './page-gateway-fixture.ts';

test("the page's console stays clean: the browser's own ask for /favicon.ico is no 401 (nor an `admin unauthorized` line)", {
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
    const page = browser.pages()[0] ?? (await browser.newPage());
    const console: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning')
        console.push(`${message.text()} ${message.location().url}`);
    });
    const { page: shown, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    assert.equal(shown, page);
    // The browser asks for the icon once the page has loaded (an ask playwright does not see):
    // three looks later it has its answer.
    let looks = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/status') looks++;
    });
    while (looks < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    await page.locator('#upstreams tr[data-target]').waitFor();
    assert.deepEqual(console, []);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(
      serve.lines.filter((line) => line.msg === 'admin unauthorized'),
      [],
      'no warn line for a page load',
    );
    const res = await fetch(`http://127.0.0.1:${adminPort}/favicon.ico`);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(await res.text(), '');
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a time of another day than the viewer's today says its date: a reload of two days ago is not read as today's", {
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
    const reload = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
    assert.equal(reload.status, 200, reload.text);
    // The viewer's clock two days on: the reload was the day before yesterday, to the page.
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.clock.install({ time: Date.now() + 2 * 86_400_000 });
    const { pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    const shown = page.locator('#last-reload', { hasText: /^ok at / });
    await shown.waitFor();
    const at = String((reload.body as { at: string }).at);
    // The date and time as the viewer's browser writes them, in its own zone.
    const expected = await page.evaluate(
      (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }),
      at,
    );
    assert.match(
      (await shown.textContent()) ?? '',
      new RegExp(`^ok at ${expected.replace(/[/.]/g, '\\$&')} via admin`),
    );
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a button the operator is on keeps the focus across the page's looks, which redraw its table", {
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
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    let looks = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/status') looks++;
    });
    const focused = () =>
      page.evaluate(
        "[document.activeElement?.dataset.action, document.activeElement?.closest('tr')?.dataset.target]",
      );
    // Keyboard on a target's Drain: it stays there, look after look.
    await page.focus(`tr[data-target="${echo.url}"] button[data-action="drain"]`);
    const from = looks;
    while (looks < from + 3) await new Promise((resolve) => setTimeout(resolve, 50));
    await page.locator(`tr[data-target="${echo.url}"]`).waitFor();
    assert.deepEqual(await focused(), ['drain', echo.url]);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("text from the config stays text and in the page's width: a route named with markup, unicode and no break", {
  timeout: 60_000,
  skip: noChromium,
}, async () => {
  const echo: Fault = await startEcho();
  const adminPort = await freePort();
  const { dir, path } = gatewayDir(adminPort, echo.url);
  const names = ['<script>alert(1)</script>', `ünïcødé-${'x'.repeat(200)}`];
  writeFileSync(
    path,
    readFileSync(path, 'utf8').replace(
      'routes:\n',
      `routes:\n${names.map((name, i) => `  - { name: ${JSON.stringify(name)}, match: { path: /r${i} }, upstream: app }\n`).join('')}`,
    ),
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  try {
    serve = await startServe(path, 1, { admin: true });
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    const rows = page.locator('#routes tbody tr');
    await page.locator('#routes tbody tr[data-route="app"]').waitFor();
    assert.deepEqual(await rows.locator('td:first-child').allTextContents(), [...names, 'app']);
    assert.equal(await page.locator('#routes script').count(), 0, 'a name is no markup');
    // The table keeps to the page's width: a name with no place to break wraps anywhere.
    const table = await page.locator('#routes').boundingBox();
    const section = await page.locator('#upstreams').boundingBox();
    assert.ok(table && section && table.width <= section.width, JSON.stringify({ table, section }));
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
