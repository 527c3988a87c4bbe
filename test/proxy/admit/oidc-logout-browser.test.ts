/**
 * The logout another site sends a browser to, in a real browser (Debian's Chromium, driven by
 * playwright-core) through `candor serve` and a real OpenID provider: the page that asks first
 * (logout-guard.ts) is the gateway's own, and its button must sign out. Its policy said
 * `form-action 'self'`, which Chromium holds to the redirect that follows the form's POST too
 * (CSP3 §6.4.1): the POST's 302 to the provider's logout was blocked, the button did nothing, and
 * the user, who had said yes, stayed signed in.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { closeAll } from '../../helpers/keep.ts';
import { CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, startProvider } from '../../helpers/oidc-provider.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

test('Chromium, sent to the logout by another site, is asked first, and its "Sign out" signs out at the provider too', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const dir = tempDir('candor-oidc-logout-');
  let gateway = '';
  // `localhost` is another site than `127.0.0.1`: its link to the logout is a cross-site one.
  const app = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    if (req.url === '/elsewhere')
      res.end(`<!doctype html><a id="out" href="${gateway}/oauth2/sign_out">out</a>`);
    else
      res.end(
        `<!doctype html><title>app</title><p id="who">${req.headers['x-user'] ?? 'nobody'} at ${req.url}</p>`,
      );
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appPort = (app.address() as { port: number }).port;
  const provider = await startProvider();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
routes:
  - name: bye
    match: { path: /bye }
    upstream: app
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
        post_logout_redirect: /bye
        cookie: { secret_env: OIDC_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${appPort}
`,
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'));
  try {
    serve = await startServe(path, 1, {
      env: { OIDC_CLIENT_SECRET: CLIENT_SECRET, OIDC_COOKIE_SECRET: COOKIE_SECRET },
    });
    gateway = `http://127.0.0.1:${serve.port}`;
    await provider.register(gateway);
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    await page.route('https://fonts.googleapis.com/**', (route) => route.abort());
    const refused: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/.test(m.text())) refused.push(m.text());
    });

    await page.goto(`${gateway}/reports`);
    await page.fill('input[name=login]', 'alice');
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await page.locator('button:has-text("Continue")').click();
    await page.waitForURL(`${gateway}/reports`);
    assert.equal(await page.locator('#who').textContent(), 'alice@example.com at /reports');

    await page.goto(`http://localhost:${appPort}/elsewhere`);
    const [asked] = await Promise.all([
      page.waitForResponse(`${gateway}/oauth2/sign_out`),
      page.click('#out'),
    ]);
    assert.equal(asked.status(), 200);
    const fields = await asked.allHeaders();
    assert.equal(fields['content-type'], 'text/html; charset=utf-8');
    assert.equal(fields['x-content-type-options'], 'nosniff');
    assert.match(fields['content-security-policy'] ?? '', /^default-src 'none';/);
    assert.equal(await page.locator('h1').textContent(), 'Sign out?');
    // Not signed out by the other site's link: the session still lets the app in.
    assert.ok((await browser.cookies(gateway)).some((c) => c.name === '_candor_session'));

    await page.click('button[type=submit]');
    await page.waitForURL(`${provider.issuer}/session/end**`);
    await page.locator('button[name=logout]').click();
    await page.waitForURL(`${gateway}/bye`);
    assert.equal(await page.locator('#who').textContent(), 'nobody at /bye');
    assert.equal(
      (await browser.cookies(gateway)).some((c) => c.name === '_candor_session'),
      false,
    );
    assert.deepEqual(refused, []);
  } finally {
    await browser.close();
    await closeAll(serve, provider, app);
    rmSync(dir, { recursive: true, force: true });
  }
});
