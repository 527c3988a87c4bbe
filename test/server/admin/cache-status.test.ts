/**
 * The stale answers a route's cache gave, on GET /status and the status page (issue 35: "the
 * metrics count stale answers by failure type, the status page shows them"): a real `candor
 * serve` of two workers sharing their answers through cache.dir, an origin that answered once
 * and then stops; /status sums the workers' counts by cause, and the page (in a real Chromium)
 * shows them on the route's row.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mergeStatuses } from '../../../src/server/cluster/status-merge.ts';
import type { GatewayStatus, RouteCacheStatus } from '../../../src/server/gateway/status.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const TOKEN = 'cache-status-token-0123456789abcdef';

interface RouteCache {
  entries: number;
  bytes: number;
  stale: Record<string, number>;
}

test('GET /status and the status page show the stale answers of each route with a cache, by failure, summed over the workers', {
  timeout: 90_000,
}, async () => {
  const dir = tempDir('candor-cache-status-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-if-error=600'],
    body: 'kept page',
  });
  const adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: edge-1
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: { dir: ${join(dir, 'cache')} }
  - name: plain
    match: { path: /plain }
    upstream: app
upstreams:
  app:
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 100 }
    targets:
      - url: ${origin.url}
`,
  );
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(path, 2, { admin: true });
    const base = `http://127.0.0.1:${serve.port}`;
    assert.equal((await request(base, { path: '/pages/a' })).status, 200);
    // The worker that stored it writes the shared file after the answer: the other worker reads
    // the page from it only once it is there (a loaded machine may take a while to write it).
    await waitUntil('the stored answer written to cache.dir', () =>
      readdirSync(join(dir, 'cache'), { recursive: true, encoding: 'utf8' }).some((f) =>
        /[0-9a-f]{64}$/.test(f),
      ),
    );
    await origin.stop();
    // Each worker that takes one reads the stored answer (memory, or the shared directory).
    for (let i = 0; i < 4; i++) {
      const stale = await request(base, { path: '/pages/a' });
      assert.equal(stale.status, 200);
      assert.match(
        String(stale.headers['cache-status']),
        /fwd=stale; fwd-status=502; .*detail="connection_refused"$/,
      );
    }

    const answer = await adminCall(adminPort, 'GET', '/status', { token: TOKEN });
    assert.equal(answer.status, 200);
    const routes = answer.body.routes as Record<string, { cache: RouteCache | null }>;
    assert.equal(routes.plain.cache, null, 'a route without a cache says none');
    const cache = routes.pages.cache as RouteCache;
    assert.deepEqual(cache.stale, { connection_refused: 4 });
    // cache.dir is one store for both workers: the page is one stored answer, whoever holds a copy.
    assert.equal(cache.entries, 1);
    assert.ok(cache.bytes > 0);

    if (noChromium) return;
    const browser = await launchChromium(join(dir, 'chromium-profile'));
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      page.setDefaultTimeout(15_000);
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await page.goto(`http://127.0.0.1:${adminPort}/`);
      await page.locator('#auth').waitFor({ state: 'visible' });
      await page.fill('#token', TOKEN);
      await page.click('#token-submit');
      const row = page.locator('tr[data-route="pages"]');
      await row.waitFor({ state: 'visible' });
      assert.equal(await row.locator('td.stale').textContent(), '4: connection_refused 4');
      assert.equal(await row.locator('td.cache').textContent(), '1 stored');
      assert.equal(await page.locator('tr[data-route="plain"] td.stale').textContent(), '—');
      assert.deepEqual(pageErrors, [], 'no script error on the page');
    } finally {
      await browser.close();
    }
  } finally {
    await serve?.stop();
    await origin.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a route's cache merged over workers: entries, bytes and each cause's stale answers summed", () => {
  const worker = (cache: RouteCache | null): GatewayStatus => ({
    config_hash: 'sha256:0',
    draining: false,
    upstreams: {},
    routes: { pages: { upstream: 'app', maintenance: { active: false, source: null }, cache } },
    store: null,
    auth_hops: {},
  });
  const merged = mergeStatuses([
    { worker: 1, pid: 11, status: worker({ entries: 2, bytes: 900, stale: { connection_refused: 3 } }) },
    {
      worker: 2,
      pid: 12,
      status: worker({ entries: 1, bytes: 400, stale: { connection_refused: 1, upstream_503: 2 } }),
    },
    { worker: 3, pid: undefined, status: undefined },
  ]);
  assert.deepEqual(merged.routes.pages.cache, {
    entries: 3,
    bytes: 1300,
    stale: { connection_refused: 4, upstream_503: 2 },
  });
});

test("a cache the workers share, merged: each answer once by its id, or the largest worker's figures past the ids' bound", () => {
  const worker = (cache: RouteCacheStatus): GatewayStatus => ({
    config_hash: 'sha256:0',
    draining: false,
    upstreams: {},
    routes: { pages: { upstream: 'app', maintenance: { active: false, source: null }, cache } },
    store: null,
    auth_hops: {},
  });
  const stale = { connection_refused: 1 };
  const merged = mergeStatuses([
    { worker: 1, pid: 11, status: worker({ entries: 2, bytes: 900, stale, ids: { aaa: 500, bbb: 400 } }) },
    { worker: 2, pid: 12, status: worker({ entries: 2, bytes: 800, stale, ids: { aaa: 500, ccc: 300 } }) },
  ]);
  // aaa held by both counts once; the ids never reach the admin API's answer.
  assert.deepEqual(merged.routes.pages.cache, { entries: 3, bytes: 1200, stale: { connection_refused: 2 } });
  const past = mergeStatuses([
    { worker: 1, pid: 11, status: worker({ entries: 1500, bytes: 9000, stale, ids: null }) },
    { worker: 2, pid: 12, status: worker({ entries: 2, bytes: 800, stale, ids: { aaa: 500, ccc: 300 } }) },
  ]);
  assert.deepEqual(past.routes.pages.cache, { entries: 1500, bytes: 9000, stale: { connection_refused: 2 } });
});
