/**
 * The sign-in in a real browser: Debian's Chromium, driven by playwright-core, through
 * `candor serve` (a child process) and a real OpenID provider's login page to the app, then back
 * through the logout (the provider's confirmation page) to a page after it.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { closeAll } from '../../helpers/keep.ts';
import { CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, startProvider } from '../../helpers/oidc-provider.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'oidc-browser-admin-token-0123456789';

test('Chromium signs in through the provider’s login page to the app, and out through its logout', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const dir = tempDir('candor-oidc-');
  const app = http.createServer((req, res) => {
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end(
        `<!doctype html><title>app</title><p id="who">${req.headers['x-user'] ?? 'nobody'} at ${req.url}</p>`,
      );
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const provider = await startProvider();
  const path = join(dir, 'candor.yaml');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const adminPort = await freePort();
  writeFileSync(
    path,
    `name: oidc-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
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
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
`,
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'));
  try {
    serve = await startServe(path, 1, {
      admin: true,
      env: { OIDC_CLIENT_SECRET: CLIENT_SECRET, OIDC_COOKIE_SECRET: COOKIE_SECRET },
    });
    const gateway = `http://127.0.0.1:${serve.port}`;
    await provider.register(gateway);
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    // The provider's pages import a web font: no network here, and none needed.
    await page.route('https://fonts.googleapis.com/**', (route) => route.abort());

    await page.goto(`${gateway}/reports?year=2026`);
    assert.ok(page.url().startsWith(`${provider.issuer}/interaction/`), page.url());
    await page.fill('input[name=login]', 'alice');
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    // A user's first sign-in asks for consent.
    await page.locator('button:has-text("Continue")').click();
    await page.waitForURL(`${gateway}/reports?year=2026`);
    assert.equal(await page.locator('#who').textContent(), 'alice@example.com at /reports?year=2026');
    const cookies = await browser.cookies(gateway);
    const session = cookies.find((c) => c.name === '_candor_session');
    assert.equal(session?.httpOnly, true);
    assert.equal(session?.sameSite, 'Lax');
    assert.equal(
      cookies.some((c) => c.name.startsWith('_candor_session_flow_')),
      false,
    );
    // Another page of the app: the session's cookie is all it takes.
    await page.goto(`${gateway}/other`);
    assert.equal(await page.locator('#who').textContent(), 'alice@example.com at /other');

    await page.goto(`${gateway}/oauth2/sign_out`);
    assert.ok(page.url().startsWith(`${provider.issuer}/session/end`), page.url());
    await page.locator('button[name=logout]').click();
    await page.waitForURL(`${gateway}/bye`);
    assert.equal(await page.locator('#who').textContent(), 'nobody at /bye');
    assert.equal(
      (await browser.cookies(gateway)).some((c) => c.name === '_candor_session'),
      false,
    );
    // Signed out, a page's script asking for HTML (as htmx does) reads the 401 it can act on: a
    // redirect to the provider's login page was a fetch it could not follow ("Failed to fetch").
    const fetched = await page.evaluate(async () => {
      try {
        const res = await fetch('/reports/7', { headers: { accept: 'text/html' } });
        return `${res.status} ${res.headers.get('www-authenticate')}`;
      } catch (err) {
        return String(err);
      }
    });
    assert.equal(fetched, '401 Bearer');
    // Signed out at the provider too: the app sends the browser to its login page again.
    await page.goto(`${gateway}/reports`);
    assert.ok(page.url().startsWith(`${provider.issuer}/interaction/`), page.url());
    assert.equal(await page.locator('input[name=login]').count(), 1);
    const lines = serve.lines.filter((l) => l.msg === 'request' && l.path === '/other');
    assert.equal(lines.at(-1)?.user, 'alice@example.com');
    // The provider is an auth hop of the status page: its discovery document and keys fetched, no failure.
    const status = await adminCall(adminPort, 'GET', '/status', { token: TOKEN });
    const hop = (
      status.body.auth_hops as Record<string, { kind: string; counts: { fetched: number; failed: number } }>
    )[`auth:${new URL(provider.issuer).host}`];
    assert.equal(hop?.kind, 'oidc');
    assert.ok(hop.counts.fetched >= 2, JSON.stringify(hop));
    assert.equal(hop.counts.failed, 0);
  } finally {
    await browser.close();
    await closeAll(serve, provider, app);
    rmSync(dir, { recursive: true, force: true });
  }
});
