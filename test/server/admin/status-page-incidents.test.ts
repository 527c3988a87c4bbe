/**
 * The status page against GET /status in the states of an incident, in a real browser (Debian's
 * Chromium, driven by playwright-core) against a real `candor serve`: a reload refused says why,
 * as `last_reload` does; a worker that died and waits out its restart backoff is shown, as
 * `workers_restarting` lists it; the page opens on what is wrong, the worst first; and it polls
 * once at a time, whatever its buttons do.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Route } from 'playwright-core';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startResetBeforeHead } from '../../../src/kits/fault-kit/reset-faults.ts';
import { launchChromium, noChromium, openStatusPage } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';
import { gatewayDir, TOKEN } from './page-gateway-fixture.ts';

test('a reload refused: the page says so as last_reload does, its problem and all', {
  timeout: 60_000,
  skip: noChromium,
}, async () => {
  const echo: Fault = await startEcho();
  const adminPort = await freePort();
  const { dir, path, text } = gatewayDir(adminPort, echo.url);
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  try {
    serve = await startServe(path, 2, { admin: true });
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    writeFileSync(path, text('nowhere'));
    const reload = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
    assert.equal(reload.status, 400, reload.text);
    const status = (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body;
    const last = status.last_reload as {
      result: string;
      problems: { path: string; line: number; message: string }[];
    };
    assert.equal(last.result, 'invalid');
    const [problem] = last.problems;
    assert.equal(problem.path, 'routes[0].upstream');

    const shown = page.locator('#last-reload');
    await page.locator('#last-reload .badge').waitFor();
    assert.equal(await shown.locator('.badge').textContent(), 'invalid');
    assert.equal(await shown.locator('.badge').getAttribute('class'), 'badge open');
    const words = (await shown.textContent()) ?? '';
    assert.ok(
      words.endsWith(`: line ${problem.line}, ${problem.path}: ${problem.message}; the running config stays`),
      words,
    );
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker that died waits out its restart backoff: the page lists it, as workers_restarting does', {
  timeout: 90_000,
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
    const status = async () => (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body;
    // Every text the Workers line takes, kept in the page: the wait is over in 1.6 s.
    await page.evaluate(`
      window.seen = [];
      const workers = document.getElementById('workers');
      new MutationObserver(() => window.seen.push(workers.textContent)).observe(workers, {
        childList: true, subtree: true, characterData: true,
      });
    `);
    // Each worker killed soon after it started: from the sixth, the replacement waits 1.6 s,
    // long enough to be read (test/cluster/worker-exits.test.ts).
    let killed = 0;
    for (let kills = 1; kills <= 6; kills++) {
      const [worker] = (await status()).workers as { pid: number }[];
      killed = worker.pid;
      process.kill(killed, 'SIGKILL');
      await serve.waitForLines('worker exited: starting another', kills, 15_000);
      if (kills < 6) await serve.waitForLines('listening', kills + 1, 20_000);
    }
    // The replacement of the sixth worker killed (those before waited shorter).
    const handle = await page.waitForFunction(() =>
      (globalThis as unknown as { seen: string[] }).seen.find((text) => text.includes('(6 short-lived')),
    );
    const text = String(await handle.jsonValue());
    assert.ok(
      text.includes(`1 restarting: worker ${killed} ended by SIGKILL (6 short-lived in a row), replaced at `),
      text,
    );
    assert.ok(text.startsWith('restarting 0 of 0 answered; '), text);
    await serve.waitForLines('listening', 7, 20_000);
    await page.locator('#workers', { hasText: /^1 of 1 answered$/ }).waitFor();
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one look at a time: an action taken while a look is under way does not start a second polling loop', {
  timeout: 60_000,
  skip: noChromium,
}, async () => {
  const echo: Fault = await startEcho();
  const adminPort = await freePort();
  const { dir, path } = gatewayDir(adminPort, echo.url);
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  try {
    serve = await startServe(path, 2, { admin: true });
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    // The page's GET /status calls are held in the browser until let go (a slow network): the
    // real answers, late. The most ever asked at once is counted.
    const held: Route[] = [];
    let asked = 0;
    let most = 0;
    let answered = 0;
    await page.route('**/status', async (route) => {
      asked++;
      most = Math.max(most, asked - answered);
      held.push(route);
    });
    const letGo = async () => {
      for (const route of held.splice(0)) {
        const response = await route.fetch();
        answered++;
        await route.fulfill({ response });
      }
    };
    // A look is under way (its /status held) when the operator drains the target.
    while (asked === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const row = page.locator(`tr[data-target^="${echo.url}"]`);
    await row.locator('button[data-action="drain"]').click();
    await page.click('#confirm-ok');
    await page.locator('#notice.done').waitFor({ state: 'visible' });
    // Each look let go in turn: the page keeps polling, and shows the drain.
    for (let looks = 0; looks < 4; looks++) {
      while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      await letGo();
    }
    await row.locator('td.admin').getByText('draining', { exact: true }).waitFor();
    assert.equal(most, 1, 'never two looks at once');
    await page.unroute('**/status');
    await letGo();
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the worst first: the page opens on what GET /status says is wrong, gateway, upstreams, targets, then maintenance', {
  timeout: 60_000,
  skip: noChromium,
}, async () => {
  const echo: Fault = await startEcho();
  const adminPort = await freePort();
  // It takes connections and resets each request: a refused one would keep panic from sending
  // it the request that ejects it (panic-unreachable.test.ts).
  const resetting = await startResetBeforeHead();
  const { dir, path } = gatewayDir(adminPort, echo.url);
  // A second upstream whose one target resets every request: its checks fail and one
  // failure ejects it, for longer than the test.
  writeFileSync(
    path,
    `${readFileSync(path, 'utf8')}  gone:
    targets: [{ url: "${resetting.url}" }]
    health_check: { path: /health, interval: 300ms, timeout: 300ms, rise: 1, fall: 1 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }
    retries: { attempts: 1 }
`.replace('routes:\n', 'routes:\n  - { name: down, match: { path: /down }, upstream: gone }\n'),
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  try {
    serve = await startServe(path, 1, { admin: true });
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    assert.equal((await request(`http://127.0.0.1:${serve.port}`, { path: '/down' })).status, 502);
    const maintenance = await adminCall(adminPort, 'PUT', '/routes/maintenance', {
      token: TOKEN,
      body: { route: 'app', enabled: true },
    });
    assert.equal(maintenance.status, 200, maintenance.text);
    const expected = [
      'upstream gone: panic (requests go to targets failing their checks)',
      'upstream gone: 1 of 1 targets ejected',
      'upstream gone: 1 of 1 targets failing their health checks',
      'route app: in maintenance (admin)',
    ];
    const items = page.locator('#attention li');
    await page.locator('#attention li', { hasText: 'in maintenance' }).waitFor();
    assert.deepEqual(await items.allTextContents(), expected);
    // What the list says is what GET /status says.
    const status = (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body as {
      upstreams: Record<string, { panic: boolean; targets: { ejected: boolean; health: string }[] }>;
      routes: Record<string, { maintenance: { active: boolean; source: string } }>;
    };
    const gone = status.upstreams.gone;
    assert.equal(gone.panic, true);
    assert.deepEqual(
      gone.targets.map((t) => [t.ejected, t.health]),
      [[true, 'unhealthy']],
    );
    assert.deepEqual(status.routes.app.maintenance, { active: true, source: 'admin' });
    assert.equal(status.upstreams.app.panic, false);
    // The list stands above every other section of the page.
    const first = await page.locator('#data > section:not([hidden])').first().getAttribute('id');
    assert.equal(first, 'attention-section');
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    await resetting.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a target's pool full: the requests waiting for one of its connections are on its row, as its pool in GET /status", {
  timeout: 60_000,
  skip: noChromium,
}, async () => {
  // An upstream that takes requests and never answers them: its one connection stays busy.
  const silent = http.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const target = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const adminPort = await freePort();
  const { dir, path } = gatewayDir(adminPort, target);
  writeFileSync(
    path,
    readFileSync(path, 'utf8').replace(
      `app: { targets: [{ url: ${target} }] }`,
      `app: { targets: [{ url: ${target} }], pool: { max_connections: 1, max_pending: 5, queue_timeout: 30s } }\ndrain: { delay: 0s, timeout: 1s }`,
    ),
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  const sent: Promise<unknown>[] = [];
  try {
    serve = await startServe(path, 1, { admin: true });
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    for (let i = 0; i < 3; i++)
      sent.push(
        request(`http://127.0.0.1:${serve.port}`, { path: `/${i}`, timeoutMs: 40_000 }).catch(() => {}),
      );
    const cell = page.locator(`tr[data-target="${target}"] td.in-flight`);
    await page.locator(`tr[data-target="${target}"] td.in-flight`, { hasText: 'waiting' }).waitFor();
    const status = (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body as {
      upstreams: Record<
        string,
        { targets: { in_flight: number; pool: { open: number; waiting: number } }[] }
      >;
    };
    const [t] = status.upstreams.app.targets;
    assert.deepEqual([t.in_flight, t.pool.open, t.pool.waiting], [3, 1, 2]);
    assert.equal(await cell.textContent(), '3 (2 waiting for a connection, 1 open)');
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    silent.closeAllConnections();
    silent.close();
    await Promise.all(sent);
    rmSync(dir, { recursive: true, force: true });
  }
});
