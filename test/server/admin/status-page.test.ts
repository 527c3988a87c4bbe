/**
 * The status page in a real browser (Debian's Chromium, driven by playwright-core) against a
 * real `candor serve --workers 2` with two targets under steady traffic: the page asks for the
 * token and says so when it is refused; a target killed (reset mode) turns unhealthy on the page
 * and the failures show up, counted by type and listed with the very request ids the clients got;
 * a target drained from the page (its confirmation dialog accepted) stops taking requests and the
 * other takes them all, counted at the upstreams; a cancelled dialog changes nothing; weights and
 * maintenance are set from the page too. The screenshot in the README is taken here.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type SwitchableUpstream, startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'status-page-token-0123456789abcdef';
/** The README's screenshot, written when asked (UPDATE_SCREENSHOT=1): a test run leaves the checkout as it was. */
const SCREENSHOT = join(import.meta.dirname, '../../../docs/status-page.png');

/** Polls `check` until it returns a value other than undefined; fails naming `what` after `ms`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not seen within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Sequential GETs through the gateway until stopped: every status, and the request ids of the 502s. */
function steadyTraffic(base: string) {
  const state = { done: 0, statuses: [] as number[], failedIds: new Set<string>(), running: true };
  const one = async () => {
    const res = await request(base, { path: '/app', timeoutMs: 5_000 }).catch(() => undefined);
    if (res !== undefined) {
      state.statuses.push(res.status);
      if (res.status === 502) state.failedIds.add(String(res.headers['x-request-id']));
    }
    state.done++;
  };
  const loop = (async () => {
    while (state.running) {
      await one();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    state,
    /** Resolves once `n` more requests have completed. */
    async more(n: number) {
      const target = state.done + n;
      await until(`${n} more requests`, async () => (state.done >= target ? true : undefined), 20_000);
    },
    /** `n` requests at once, beside the steady ones. */
    async burst(n: number) {
      await Promise.all(Array.from({ length: n }, one));
    },
    async stop() {
      state.running = false;
      await loop;
    },
  };
}

test('the status page: token prompt, a killed target goes unhealthy and its failures show, a drain from the page moves the traffic', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const dir = tempDir('candor-page-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const killable: SwitchableUpstream = await startSwitchable();
  const steady: Fault = await startEcho();
  const adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  // Fast checks, no retries (a failed attempt is the client's answer, so the failures are
  // there to see), a short ejection: the whole story fits in a few seconds.
  writeFileSync(
    path,
    `name: page-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${killable.url}
      - url: ${steady.url}
    health_check: { path: /health, interval: 300ms, timeout: 300ms, rise: 1, fall: 2 }
    outlier_detection: { consecutive_failures: 3, base_ejection_time: 1s }
    retries: { attempts: 1 }
`,
  );
  let serve: ServeProcess | undefined;
  let traffic: ReturnType<typeof steadyTraffic> | undefined;
  const profile = join(dir, 'chromium-profile');
  const browser = await launchChromium(profile, { width: 1280, height: 1000 });
  try {
    serve = await startServe(path, 2, { admin: true });
    const base = `http://127.0.0.1:${serve.port}`;
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`http://127.0.0.1:${adminPort}/`);

    // The page loads without the token, and asks for it; a wrong one is refused in plain words.
    await page.locator('#auth').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#data').isVisible(), false, 'no data without the token');
    await page.fill('#token', 'not-the-admin-token-0000');
    await page.click('#token-submit');
    await until('the 401 prompt', async () => {
      const text = (await page.locator('#auth-message').textContent()) ?? '';
      return text.includes('refused the token (401') ? text : undefined;
    });
    await page.fill('#token', TOKEN);
    await page.click('#token-submit');
    await page.locator('#data').waitFor({ state: 'visible' });

    const row = (fault: { port: number }) =>
      page.locator(`tr[data-target^="http://127.0.0.1:${fault.port}"]`);
    const health = (fault: { port: number }) => row(fault).locator('td.health').getAttribute('data-health');
    for (const fault of [killable, steady])
      await until(`target ${fault.port} healthy`, async () =>
        (await health(fault)) === 'healthy' ? true : undefined,
      );
    assert.match((await page.locator('#config-hash').textContent()) ?? '', /\(version 1\)$/);
    assert.equal(await page.locator('#workers').textContent(), '2 of 2 answered');
    assert.equal(await page.locator('#store').textContent(), 'none (each gateway keeps its own rate limits)');

    traffic = steadyTraffic(base);
    await traffic.more(20);
    await until('answers by the upstream counted on the page', async () => {
      const n = Number(await page.locator('tr[data-series="upstream"] td.last-minute').textContent());
      return n > 0 ? n : undefined;
    });

    // Kill one target: it resets every connection, as a crashed process whose port is still held.
    killable.setMode('reset');
    // At once, before its health checks (two failed, 300 ms apart) take it out: the sequential
    // traffic alone may send it nothing in that window on a loaded machine, and no failure
    // would be there to count.
    await traffic.burst(12);
    await until('the killed target unhealthy on the page', async () =>
      (await health(killable)) === 'unhealthy' ? true : undefined,
    );
    const failures = await until('the failure series counted on the page', async () => {
      const rows = await page.locator('#series tbody tr[data-series^="gateway "]').all();
      let total = 0;
      for (const r of rows) total += Number(await r.locator('td.last-minute').textContent());
      return total > 0 ? total : undefined;
    });
    assert.ok(traffic.state.failedIds.size > 0, 'clients got 502s while the target was dying');
    const listed = await until('a failed request listed with the id its client got', async () => {
      for (const id of traffic?.state.failedIds ?? []) {
        const failure = page.locator(`#failures tr[data-req-id="${id}"]`);
        if ((await failure.count()) > 0) return failure;
      }
      return undefined;
    });
    assert.match((await listed.locator('td.error').textContent()) ?? '', /^connection_/);
    assert.ok(failures > 0);

    // Revive it, then drain the other one from the page.
    killable.setMode('ok');
    await until('the revived target healthy and back in rotation', async () => {
      if ((await health(killable)) !== 'healthy') return undefined;
      return (await row(killable).locator('td.ejected').textContent()) === 'no' ? true : undefined;
    });
    await row(steady).locator('button[data-action="drain"]').click();
    const dialog = page.locator('#confirm');
    await dialog.waitFor({ state: 'visible' });
    assert.match(
      (await page.locator('#confirm-title').textContent()) ?? '',
      new RegExp(`Drain ${steady.url}`),
    );
    await page.click('#confirm-ok');
    await until('the drained target shown draining', async () =>
      (await row(steady).locator('td.admin').textContent()) === 'draining' ? true : undefined,
    );
    assert.match((await page.locator('#notice').textContent()) ?? '', /confirmed by 2 worker\(s\)/);
    // A request sent before both workers confirmed may still be on its way: let it land.
    await traffic.more(3);
    const atSteady = () => steady.received.filter((r) => r.path === '/app').length;
    const steadyBefore = atSteady();
    const killableBefore = killable.answered;
    const statusesBefore = traffic.state.statuses.length;
    await traffic.more(30);
    const after = traffic.state.statuses.slice(statusesBefore);
    assert.ok(after.length >= 30);
    assert.deepEqual(new Set(after), new Set([200]), 'every request answered while one target drains');
    assert.equal(atSteady(), steadyBefore, 'the drained target takes no new request');
    assert.ok(killable.answered - killableBefore >= after.length, 'the other target took them all');

    const shot = process.env.UPDATE_SCREENSHOT === '1' ? SCREENSHOT : join(dir, 'status-page.png');
    mkdirSync(join(shot, '../..'), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });

    // A dialog cancelled changes nothing; the weight and maintenance actions go through theirs.
    await row(killable).locator('button[data-action="disable"]').click();
    await page.click('#confirm-cancel');
    await dialog.waitFor({ state: 'hidden' });
    await traffic.more(3);
    assert.equal(await row(killable).locator('td.admin').textContent(), 'enabled');
    // An emptied weight is no weight: not sent (as 0, which takes the target out of rotation).
    await row(killable).locator('button[data-action="weight"]').click();
    await page.fill('#confirm-input', '');
    await page.click('#confirm-ok');
    assert.equal(await dialog.isVisible(), true, 'an empty weight is not confirmed');
    await page.fill('#confirm-input', '3');
    await page.click('#confirm-ok');
    await until('the new weight shown', async () =>
      (await row(killable).locator('td.weight').textContent()) === '3 (config 1)' ? true : undefined,
    );
    // Cancel goes whatever the field holds, and the value it left out of range does not hold up
    // the next dialog, which has no field (the maintenance one below).
    await row(killable).locator('button[data-action="weight"]').click();
    await page.fill('#confirm-input', '2000');
    await page.click('#confirm-cancel');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await row(killable).locator('td.weight').textContent(), '3 (config 1)');
    const route = page.locator('tr[data-route="app"]');
    await route.locator('button[data-action="maintenance-on"]').click();
    await page.click('#confirm-ok');
    await until('maintenance shown on', async () =>
      (await route.locator('td.maintenance').textContent()) === 'on (admin)' ? true : undefined,
    );
    assert.equal((await request(base, { path: '/app' })).status, 503);
    await route.locator('button[data-action="maintenance-off"]').click();
    await page.click('#confirm-ok');
    await until('maintenance shown off', async () =>
      (await route.locator('td.maintenance').textContent()) === 'off' ? true : undefined,
    );
    assert.deepEqual(pageErrors, [], 'no script error on the page');
  } finally {
    await traffic?.stop();
    await browser.close();
    await serve?.stop();
    await killable.close();
    await steady.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
