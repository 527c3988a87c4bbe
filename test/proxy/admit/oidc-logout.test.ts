/**
 * The OpenID Connect logout against logout CSRF: another site's page that sends the browser to
 * `logout_path` (a link, a form, a script's navigation; its SameSite=Lax cookie goes with a
 * top-level GET) does not end the session, but is shown a page that asks, whose button posts the
 * logout from the gateway's own origin. The gateway's own pages, a bookmark, a typed address and a
 * client that says nothing of where it comes from (curl, oauth2-proxy's habit) sign out at once.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
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
    (req, res) => res.end(`hello ${req.headers['x-user']}`),
    (issuer, appUrl) => `routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      identity_header: X-User
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_TEST_CLIENT_SECRET
        post_logout_redirect: /bye
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

/** The session cookies of a browser signed in as `user`, as a Cookie field. */
async function signedIn(user: string): Promise<string> {
  const browser = new HttpBrowser();
  const page = await browser.signIn(await browser.go(`${gw.url}/`), user);
  assert.equal(page.text, `hello ${user}`);
  return browser.cookiesStarting('127.0.0.1', '_candor_session').join('; ');
}

/** Whether the cookies still let the user in (a program's request: 401 without a session). */
async function stillIn(cookie: string): Promise<boolean> {
  const res = await request(gw.url, { path: '/orders', headers: { cookie } });
  return res.status === 200;
}

test('a logout another site sends the browser to (a cross-site GET) asks first and ends no session', async () => {
  const cookie = await signedIn('alice');
  const res = await request(gw.url, {
    path: '/oauth2/sign_out',
    headers: {
      cookie,
      accept: 'text/html',
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'navigate',
      'x-request-id': 'logout-cross-site',
    },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers['set-cookie'], undefined);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  // No form-action: the browser holds it to the POST's redirect to the provider (oidc-logout-browser.test.ts).
  assert.equal(
    res.headers['content-security-policy'],
    "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  );
  assert.match(res.headers['content-type'] ?? '', /^text\/html; charset=utf-8$/);
  assert.match(res.text, /<form method="post" action="\/oauth2\/sign_out">/);
  assert.equal(res.headers.location, undefined);
  assert.ok(await stillIn(cookie));
  const line = await gw.logFor('logout-cross-site');
  assert.equal(line.auth, 'denied: oidc logout from another site, confirmation asked');
});

test('a form of another site posting the logout (its Origin not the route’s) ends no session', async () => {
  const cookie = await signedIn('bob');
  for (const headers of [
    { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    // A browser that sends no Sec-Fetch-* still sends Origin with a POST.
    { origin: 'https://evil.example' },
    // An opaque origin (a sandboxed frame, a data: page) is no page of the gateway's.
    { origin: 'null' },
  ]) {
    const res = await request(gw.url, {
      method: 'POST',
      path: '/oauth2/sign_out',
      headers: {
        ...headers,
        cookie,
        accept: 'text/html',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: '',
    });
    assert.equal(res.status, 200, JSON.stringify(headers));
    assert.equal(res.headers['set-cookie'], undefined);
    assert.ok(await stillIn(cookie));
  }
});

test('the confirmation’s POST from the gateway’s own origin, a same-origin GET and a bare GET sign out', async () => {
  for (const headers of [
    { origin: gw.url, 'sec-fetch-site': 'same-origin' },
    { 'sec-fetch-site': 'same-origin' },
    // Typed, a bookmark: the browser says `none`.
    { 'sec-fetch-site': 'none' },
    // curl, a script: it says nothing of where it comes from.
    {},
  ]) {
    const cookie = await signedIn('carol');
    const post = 'origin' in headers;
    const res = await request(gw.url, {
      method: post ? 'POST' : 'GET',
      path: '/oauth2/sign_out',
      headers: { ...headers, cookie, accept: 'text/html' },
      ...(post ? { body: '' } : {}),
    });
    assert.equal(res.status, 302, JSON.stringify(headers));
    assert.ok(String(res.headers.location).startsWith(`${provider.issuer}/session/end?`));
    assert.ok((res.headers['set-cookie'] ?? []).some((c) => /^_candor_session=;.*Max-Age=0/.test(c)));
  }
});
