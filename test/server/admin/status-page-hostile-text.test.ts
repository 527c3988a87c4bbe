/**
 * The status page fed hostile text, in a real browser (Debian's Chromium, driven by
 * playwright-core) against a real `candor serve`: a route named with markup, an upstream whose bad header name is an `<img onerror>`, a client's path and X-Request-Id holding
 * markup. Every one of them reaches the page (its failures table, its routes) as text: no script
 * of theirs runs, no element of theirs is made, and `GET /status`, `/activity` and `/events` are
 * JSON a reader parses, the text in it as sent.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { launchChromium, noChromium, openStatusPage } from '../../helpers/chromium.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';
import { gatewayDir, TOKEN } from './page-gateway-fixture.ts';

/** Each sets window.__xss when it runs: as a script, as an image's error handler. */
const ROUTE = '<script>window.__xss="route"</script>';
// (The details quote at most 40 characters of a name, a quote in it as "?": this one whole.)
const HEADER_NAME = '<img/src=x/onerror=__xss=1>';
const PATH = '/<img/src=x/onerror=window.__xss="path">?q="\'`javascript:alert(1)';

test('hostile text from config, upstream and client stays text on the status page: no script runs, no element is made', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const bad = await startRawFault(async (c) => {
    for (;;) {
      await c.nextRequest();
      await c.end(`HTTP/1.1 200 OK\r\n${HEADER_NAME}: v\r\ncontent-length: 0\r\n\r\n`);
    }
  });
  const adminPort = await freePort();
  const { dir, path } = gatewayDir(adminPort, bad.url);
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${join(dir, 'token')} }
routes:
  - { name: ${JSON.stringify(ROUTE)}, match: { path: / }, upstream: app }
upstreams:
  app: { targets: [{ url: ${bad.url} }], retries: { attempts: 1 } }
`,
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  try {
    serve = await startServe(path, 1, { admin: true });
    const port = serve.port;
    for (let i = 0; i < 3; i++) {
      const res = await rawRequest(
        port,
        `GET ${PATH} HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: <script>window.__xss="id"</script>\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(res.status, 502, res.raw.slice(0, 300));
    }
    const details = `invalid header name "${HEADER_NAME}"`;
    for (const read of ['/status', '/activity', '/events']) {
      const answer = await adminCall(adminPort, 'GET', read, { token: TOKEN });
      assert.equal(answer.status, 200, read);
      assert.equal(answer.type, 'application/json', read);
      assert.doesNotThrow(() => JSON.parse(answer.text), read);
    }
    const activity = (await adminCall(adminPort, 'GET', '/activity', { token: TOKEN })).body as {
      failures: { details: string; route: string }[];
    };
    assert.ok(
      activity.failures.some((f) => f.details === details && f.route === ROUTE),
      JSON.stringify(activity.failures),
    );

    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    await page.locator('#failures td.details', { hasText: HEADER_NAME }).first().waitFor();
    assert.equal(await page.locator('#failures td.details').first().textContent(), details);
    await page.locator('#routes tbody tr').first().waitFor();
    assert.equal(await page.locator('#routes tbody tr td:first-child').first().textContent(), ROUTE);
    // Given the time an image's error handler needs to run, had one been made.
    await page.waitForTimeout(500);
    assert.equal(await page.evaluate('window.__xss'), undefined);
    assert.equal(await page.locator('img').count(), 0, 'no image element came of the text');
    assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script came of the text');
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await bad.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
