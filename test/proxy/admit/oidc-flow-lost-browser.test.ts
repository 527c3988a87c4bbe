/**
 * A sign-in whose flow cookie the browser no longer holds when the provider sends it back, in a
 * real browser (Debian's Chromium, driven by playwright-core) through `candor serve` over TLS and
 * a real OpenID provider. A browser restoring six tabs of the app after its session ended begins
 * six sign-ins; the gateway keeps five flows, the oldest cleared, so the person signing in on the
 * first tab came back to a 400 saying "Retrying the same request will fail the same way: change
 * the request", with no way on (a sign-in left open at the provider past its ten minutes ends
 * the same). The page now links to a new sign-in, which the provider, already signed in, completes.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { closeAll } from '../../helpers/keep.ts';
import { CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, startProvider } from '../../helpers/oidc-provider.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

test('Chromium signing in on the oldest of six tabs is offered a new sign-in, and is signed in by it', {
  timeout: 120_000,
  skip: noChromium,
}, async () => {
  const dir = tempDir('candor-oidc-flow-lost-');
  const app = http.createServer((req, res) => {
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end(
        `<!doctype html><title>app</title><p id="who">${req.headers['x-user'] ?? 'nobody'} at ${req.url}</p>`,
      );
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const provider = await startProvider();
  const { localhost } = testCertificates();
  const port = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: oidc-edge
listen:
  - address: 127.0.0.1:${port}
    http2: true
    tls: { cert: ${localhost.certPath}, key: ${localhost.keyPath} }
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      identity_header: X-User
      oidc:
        issuer: ${provider.issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_CLIENT_SECRET
        scopes: [email]
        identity_claim: email
        cookie: { secret_env: OIDC_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
`,
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), undefined, true);
  try {
    serve = await startServe(path, 1, {
      env: { OIDC_CLIENT_SECRET: CLIENT_SECRET, OIDC_COOKIE_SECRET: COOKIE_SECRET },
    });
    const gateway = `https://localhost:${port}`;
    await provider.register(gateway);
    const tabs = [];
    for (let i = 0; i < 6; i++) {
      const tab = browser.pages()[i] ?? (await browser.newPage());
      tab.setDefaultTimeout(15_000);
      // The provider's pages import a web font: no network here, and none needed.
      await tab.route('https://fonts.googleapis.com/**', (route) => route.abort());
      await tab.goto(`${gateway}/report/${i}?tab=${i}`);
      assert.ok(tab.url().startsWith(`${provider.issuer}/interaction/`), tab.url());
      tabs.push(tab);
    }
    const flows = (await browser.cookies(gateway)).filter((c) => c.name.startsWith('_candor_session_flow_'));
    assert.equal(flows.length, 5, 'five flows kept, the first tab’s cleared');
    assert.ok(
      flows.every((c) => c.secure && c.httpOnly && c.sameSite === 'Lax'),
      JSON.stringify(flows),
    );

    const first = tabs[0];
    await first.fill('input[name=login]', 'alice');
    await first.fill('input[name=password]', 'any');
    await first.click('button[type=submit]');
    await first.locator('button:has-text("Continue")').click();
    await first.waitForURL((url) => url.href.startsWith(`${gateway}/oauth2/callback?`));
    assert.match(await first.locator('h1').innerText(), /^400\s+Bad Request$/);
    assert.match(await first.locator('main').innerText(), /no sign-in of this browser is under way/);
    // The way on: a new sign-in, which the provider (signed in now) completes without asking.
    const again = first.locator('a', { hasText: 'Sign in again' });
    assert.equal(await again.count(), 1, await first.locator('main').innerText());
    assert.equal(await again.getAttribute('href'), '/');
    await again.click();
    await first.waitForURL(`${gateway}/`);
    assert.equal(await first.locator('#who').textContent(), 'alice@example.com at /');
    const session = (await browser.cookies(gateway)).find((c) => c.name === '_candor_session');
    assert.equal(session?.secure, true);
    assert.equal(session?.httpOnly, true);
    assert.equal(session?.sameSite, 'Lax');
    assert.equal(session?.path, '/');
    assert.equal(session?.expires, -1, 'a cookie of the browser’s session: its end is sealed inside it');

    // The last tab's own flow is kept: signing in there (no consent asked again) comes back to its page.
    const last = tabs[5];
    await last.fill('input[name=login]', 'alice');
    await last.fill('input[name=password]', 'any');
    await last.click('button[type=submit]');
    await last.waitForURL(`${gateway}/report/5?tab=5`);
    assert.equal(await last.locator('#who').textContent(), 'alice@example.com at /report/5?tab=5');
    // The first tab's answer, logged as it was (the next ones' lines may still be on their way).
    const callbacks = serve.lines.filter(
      (l) => l.msg === 'request' && String(l.path).startsWith('/oauth2/callback?'),
    );
    assert.deepEqual([callbacks[0]?.status, callbacks[0]?.auth], [400, 'denied: oidc no flow']);
  } finally {
    await browser.close();
    await closeAll(serve, provider, app);
    rmSync(dir, { recursive: true, force: true });
  }
});
