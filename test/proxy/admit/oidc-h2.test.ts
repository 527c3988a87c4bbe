/**
 * OpenID Connect sign-in over HTTP/2, as over HTTP/1.1: a browser without a session sent to the
 * provider, a session's cookies in crumbs (RFC 9113 §8.2.3) let in as its user, a session renewed
 * with its new cookies on the HTTP/2 answer.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';
import { CookieSeal } from '../../../src/proxy/admit/oidc/session-cookie.ts';
import { closeAll } from '../../helpers/keep.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  COOKIE_SECRET,
  HttpBrowser,
  startSignIn,
  type TestProvider,
} from '../../helpers/oidc-provider.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_TEST_CLIENT_SECRET: CLIENT_SECRET, OIDC_TEST_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (req, res) => res.writeHead(200).end(`hello ${req.headers['x-user']}`),
    (issuer, appUrl) => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    auth:
      identity_header: X-User
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_TEST_CLIENT_SECRET
        scopes: [offline_access]
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
    'http2: true',
  ));
});
after(() => closeAll(gw, provider, app));

/** One HTTP/2 request (h2c, by the preface): its head, its body. */
function h2(
  path: string,
  headers: http2.OutgoingHttpHeaders,
): Promise<{ head: http2.IncomingHttpHeaders; body: string }> {
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    let head: http2.IncomingHttpHeaders = {};
    let body = '';
    stream.on('response', (h) => {
      head = h;
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    stream.on('error', reject);
    stream.on('close', () => {
      session.destroy();
      resolve({ head, body });
    });
    stream.end();
  });
}

test('over HTTP/2: sent to sign in, the session’s cookie in crumbs let in as its user, renewed with its new cookies', async () => {
  const page = await h2('/page', { accept: 'text/html' });
  assert.equal(page.head[':status'], 302);
  assert.ok(String(page.head.location).startsWith(`${provider.issuer}/auth?`));
  const api = await h2('/page', { accept: 'application/json' });
  assert.equal(api.head[':status'], 401);
  assert.equal(api.head['www-authenticate'], 'Bearer');

  // A session from a sign-in (over HTTP/1.1 on the same listener), then sent over HTTP/2.
  const browser = new HttpBrowser();
  const signedIn = await browser.signIn(await browser.go(`${gw.url}/`), 'grace');
  assert.equal(signedIn.text, 'hello grace');
  const cookie = browser.cookie('127.0.0.1', '_candor_session') as string;
  // Crumbs: each cookie in a field of its own, which the gateway joins.
  const crumbs = await h2('/page', { cookie: ['theme=dark', `_candor_session=${cookie}`] });
  assert.equal(crumbs.head[':status'], 200);
  assert.equal(crumbs.body, 'hello grace');

  const seal = new CookieSeal(COOKIE_SECRET, 'session');
  const session = seal.open(cookie) as Record<string, unknown>;
  const ending = await seal.seal({ ...session, a: Date.now() - 3600_000, e: Date.now() + 1000 });
  const renewed = await h2('/page', { cookie: `_candor_session=${ending}` });
  assert.equal(renewed.head[':status'], 200);
  assert.equal(renewed.body, 'hello grace');
  const set = ([] as string[]).concat(renewed.head['set-cookie'] ?? []);
  assert.ok(
    set.some((c) => c.startsWith('_candor_session=')),
    JSON.stringify(renewed.head),
  );
  assert.equal(renewed.head['cache-control'], 'private, no-store');
});
