/**
 * The status page names what failed as the other surfaces do, in a real browser (Debian's
 * Chromium) against a real `candor serve`: an auth hop's 502 names the hop in the latest
 * failures' Target column (the log line's `auth_hop`, where the page showed an empty cell), and a
 * target written `HTTP://LocalHost:PORT/` is listed as `http://localhost:PORT`, the name the log
 * line's `target`, the metrics and the failures table give it (the page listed its spelling).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { launchChromium, noChromium, openStatusPage } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';
import { gatewayDir, TOKEN } from './page-gateway-fixture.ts';

test("the status page names an auth hop's failure by its hop, and a target by its origin", {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const refusing = await startRefusing();
  const adminPort = await freePort();
  const { dir, path } = gatewayDir(adminPort, refusing.url);
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${join(dir, 'token')} }
trust_forwarded_from: [127.0.0.1]
routes:
  - name: guarded
    match: { path: /guarded }
    upstream: app
    auth:
      forward: { url: ${refusing.url}/check }
  - { name: app, match: { path: / }, upstream: app }
upstreams:
  app:
    targets: [{ url: "HTTP://LocalHost:${refusing.port}/" }]
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 0 }
`,
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  try {
    serve = await startServe(path, 1, { admin: true });
    const url = `http://127.0.0.1:${serve.port}`;
    for (const [path, id] of [
      ['/guarded', 'page-auth'],
      ['/', 'page-target'],
    ]) {
      const res = await request(url, { path, headers: { 'x-request-id': id } });
      assert.equal(res.status, 502);
    }
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    const targetCell = (id: string) => page.locator(`#failures tr[data-req-id="${id}"] td:nth-child(8)`);
    await targetCell('page-auth').waitFor();
    await targetCell('page-target').waitFor();
    const origin = `http://localhost:${refusing.port}`;
    assert.deepEqual(
      {
        auth: await targetCell('page-auth').textContent(),
        target: await targetCell('page-target').textContent(),
        listed: await page.locator('tr[data-upstream="app"] td:first-child').first().textContent(),
      },
      { auth: `auth:127.0.0.1:${refusing.port}`, target: origin, listed: origin },
    );
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await refusing.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
