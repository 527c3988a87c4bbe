/**
 * The gateway's session cookies and a WebSocket's `101 Switching Protocols`, which goes as the
 * upstream sent it (no header rule edits it). An upstream's 101 setting a cookie of the gateway's
 * name reached the browser, though no other answer of an upstream's does (one of its choosing
 * signs the user in as someone else); it is taken out. And a session renewed by a page's WebSocket, in a real browser (Debian's Chromium, driven by
 * playwright-core): the upgrade request is the session's next request once it is due, so the
 * renewal happens on it, and its new cookies must go on its answer, the 101, as on any other
 * ("the new cookies on that request's answer, whichever it is"). The 101 went as the upstream
 * sent it, without them: the browser kept the session whose refresh token the renewal had spent,
 * and with a provider that rotates refresh tokens (Okta, Auth0, Keycloak's
 * revoke-refresh-token) the user was signed out at the next renewal (`oidc session refresh
 * refused`), the provider's reuse detection revoking the grant.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { CookieSeal } from '../../../src/proxy/admit/oidc/session-cookie.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, startProvider } from '../../helpers/oidc-provider.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_WS_CLIENT_SECRET: CLIENT_SECRET, OIDC_WS_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

/** An app whose /ws answers a WebSocket upgrade and echoes one short text frame back. */
function startApp(): http.Server {
  const app = http.createServer((req, res) => {
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end(`<!doctype html><p id="who">${req.headers['x-user']}</p>`);
  });
  app.on('upgrade', (req, socket) => {
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on('data', (frame: Buffer) => {
      if ((frame[0] & 0x0f) === 8) return void socket.end(Buffer.from([0x88, 0]));
      // A masked text frame of under 126 bytes, as the page sends: unmasked, and sent back.
      const length = frame[1] & 0x7f;
      const data = Buffer.from(frame.subarray(6, 6 + length));
      for (let i = 0; i < length; i++) data[i] ^= frame[2 + (i % 4)];
      socket.write(Buffer.concat([Buffer.from([0x81, length]), data]));
    });
  });
  return app;
}

test('Chromium keeps the session a WebSocket upgrade renewed: its cookies are on the 101', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const app = startApp();
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const provider = await startProvider();
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      identity_header: X-User
      oidc:
        issuer: ${provider.issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_WS_CLIENT_SECRET
        cookie: { secret_env: OIDC_WS_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
`,
    ENV,
  );
  const browser = await launchChromium(join(tempDir('candor-oidc-ws-'), 'profile'));
  try {
    await provider.register(gw.url, { rotateRefreshTokens: true });
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    // The provider's pages import a web font: no network here, and none needed.
    await page.route('https://fonts.googleapis.com/**', (route) => route.abort());
    await page.goto(`${gw.url}/app`);
    await page.fill('input[name=login]', 'alice');
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await page.locator('button:has-text("Continue")').click();
    await page.waitForURL(`${gw.url}/app`);
    assert.equal(await page.locator('#who').textContent(), 'alice');

    // The session as signed in, made to be at its renewal (as one whose tokens aged).
    const seal = new CookieSeal(COOKIE_SECRET, 'session');
    const signedIn = (await browser.cookies(gw.url)).find((c) => c.name === '_candor_session');
    assert.ok(signedIn);
    const opened = seal.open(signedIn.value) as Record<string, unknown>;
    assert.equal(typeof opened.r, 'string', 'a refresh token');
    const due = await seal.seal({ ...opened, a: Date.now() - 60_000, e: Date.now() + 20_000 });
    await browser.addCookies([{ ...signedIn, value: due }]);

    const echoed = await page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const socket = new WebSocket(url);
          socket.onopen = () => socket.send('hello');
          socket.onmessage = (event) => {
            resolve(String(event.data));
            socket.close();
          };
          socket.onerror = () => resolve('error');
        }),
      `${gw.url.replace('http:', 'ws:')}/ws`,
    );
    assert.equal(echoed, 'hello');
    assert.equal(provider.asked.get('/token'), 2, 'the sign-in, then the renewal on the upgrade');
    const held = (await browser.cookies(gw.url)).find((c) => c.name === '_candor_session');
    assert.notEqual(held?.value, due, 'the renewed session replaced the one the renewal spent');
    const renewed = seal.open(held?.value as string) as { r?: string; e: number };
    assert.notEqual(
      renewed.r,
      opened.r,
      'the provider rotated the refresh token: the browser holds the new one',
    );
    assert.ok(renewed.e > Date.now() + 60_000, 'and the renewed tokens’ end');
  } finally {
    await browser.close();
    await closeAll(gw, provider, app);
  }
});

test('an upstream’s 101 sets none of the gateway’s cookies: its own go on', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Set-Cookie: _candor_session=planted; Path=/\r\nSet-Cookie: _candor_session.1=part\r\n' +
        'Set-Cookie: _candor_session_flow_AAAAAAAAAAAA=flow\r\nSet-Cookie: app=1; Path=/\r\n\r\n',
    );
    c.socket.on('end', () => c.socket.end());
  });
  // A route without auth beside one that signs in: the session cookie is the host's, sent to both.
  const gw = await startTestGateway(
    `routes:
  - { name: socket, match: { path: /ws }, upstream: app }
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: http://127.0.0.1:9
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_WS_CLIENT_SECRET
        cookie: { secret_env: OIDC_WS_COOKIE_SECRET }
upstreams:
  app: { targets: [{ url: "${upstream.url}" }] }
`,
    ENV,
  );
  try {
    const res = await rawRequest(
      gw.port,
      'GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      1000,
    );
    assert.equal(res.status, 101, res.raw);
    const head = res.raw.slice(0, res.raw.indexOf('\r\n\r\n'));
    const cookies = head
      .split('\r\n')
      .filter((line) => /^set-cookie:/i.test(line))
      .map((line) => line.slice(line.indexOf(':') + 1).trim());
    assert.deepEqual(cookies, ['app=1; Path=/']);
  } finally {
    await closeAll(gw, upstream);
  }
});
