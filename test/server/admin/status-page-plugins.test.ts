/**
 * The status page's Plugins table in a real browser against `candor serve --workers 2` (issue 57):
 * each plugin's calls, failures and overruns, summed over both workers, as GET /status gives them.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'status-page-plugins-token-0123456789';

test("the status page shows each plugin's calls, failures and overruns over every worker", {
  timeout: 60_000,
  skip: noChromium,
}, async () => {
  const dir = tempDir('candor-page-plugins-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'moody.mjs'),
    "export default () => ({ onRequest(r) { if (r.path === '/throw') throw new Error('x'); if (r.path === '/hang') return new Promise(() => {}); } });\n",
  );
  const app = await startEcho();
  const adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
plugins:
  moody: { module: ./moody.mjs, timeout: 200ms }
routes:
  - { match: { path: / }, upstream: app, plugins: [moody] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  try {
    serve = await startServe(path, 2, { admin: true });
    const base = `http://127.0.0.1:${serve.port}`;
    // New connections each: the kernel spreads them over both workers.
    for (const p of ['/a', '/b', '/c', '/d', '/throw', '/throw', '/hang'])
      await request(base, { path: p, headers: { connection: 'close' }, timeoutMs: 5000 });
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    await page.goto(`http://127.0.0.1:${adminPort}/`);
    await page.locator('#auth').waitFor({ state: 'visible' });
    await page.fill('#token', TOKEN);
    await page.click('#token-submit');
    const row = page.locator('tr[data-plugin="plugin:moody"]');
    await row.waitFor({ state: 'visible' });
    assert.equal(await row.locator('td.calls').textContent(), '7');
    assert.equal(await row.locator('td.failures').textContent(), '2');
    assert.equal(await row.locator('td.overruns').textContent(), '1');
  } finally {
    await browser.close();
    await serve?.stop();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
