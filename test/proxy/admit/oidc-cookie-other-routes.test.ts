/**
 * The session cookie is its host's (`Path=/`, no `Domain`), so a browser signed in on an OpenID
 * Connect route sends it with every request to that host, those of the host's other routes too.
 * It is a bearer credential: replayed to the sign-in's route, it is let in as its user (and
 * without `store.redis` it stays good after a logout, until it expires). The sign-in's route
 * keeps it from its own upstream; every other route of the gateway must keep it (and any other
 * OpenID Connect route's session and flow cookies) from its upstream too, or that upstream (a
 * marketing site, a third party's app beside the signed-in one) reads every user's session out of
 * its Cookie fields, and can sign in as them. Nor may such an upstream set them: a session cookie
 * of its choosing (an attacker's own) would sign the user in as someone else. Through a real provider (oidc-provider), over
 * HTTP/1.1 and HTTP/2 (cookie crumbs).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
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

const ENV = { OIDC_OTHER_ROUTES_SECRET: CLIENT_SECRET, OIDC_OTHER_ROUTES_COOKIE: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;
/** The site beside the signed-in app: the Cookie field each of its requests came with. */
let site: http.Server;
const siteSaw: (string | undefined)[] = [];
/** A forward-auth service of another route: the Cookie field each of its calls came with. */
let authService: http.Server;
const authSaw: (string | undefined)[] = [];

before(async () => {
  site = http.createServer((req, res) => {
    siteSaw.push(req.headers.cookie);
    // An upstream that sets the gateway's cookies: a session of its choosing (an attacker's own,
    // sealed by the gateway at their sign-in) would sign the user in as someone else (login CSRF).
    if (req.url?.startsWith('/site/plant'))
      res.setHeader('set-cookie', [
        '_candor_session=planted; Path=/; HttpOnly',
        '_candor_session.1=part; Path=/',
        '_candor_session_flow_AbCdEfGhIjKl=flow; Path=/',
        'staff_session=planted; Path=/staff',
        'theme=light; Path=/',
      ]);
    res.end('site');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const sitePort = (site.address() as AddressInfo).port;
  authService = http.createServer((req, res) => {
    authSaw.push(req.headers.cookie);
    res.end();
  });
  await new Promise<void>((resolve) => authService.listen(0, '127.0.0.1', resolve));
  const authPort = (authService.address() as AddressInfo).port;
  ({ app, provider, gw } = await startSignIn(
    (_req, res) => res.end('app'),
    (issuer, appUrl) => `routes:
  - name: site
    match: { path: /site }
    upstream: site
  - name: guarded
    match: { path: /guarded }
    upstream: site
    auth:
      forward: { url: "http://127.0.0.1:${authPort}/check" }
  - name: staff
    match: { path: /staff }
    upstream: site
    auth:
      oidc:
        issuer: ${issuer}
        client_id: other-client
        client_secret_env: OIDC_OTHER_ROUTES_SECRET
        redirect_path: /staff/oauth2/callback
        logout_path: /staff/oauth2/sign_out
        cookie: { name: staff_session, secret_env: OIDC_OTHER_ROUTES_COOKIE }
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_OTHER_ROUTES_SECRET
        cookie: { secret_env: OIDC_OTHER_ROUTES_COOKIE }
upstreams:
  app:
    targets:
      - url: ${appUrl}
  site:
    targets:
      - url: http://127.0.0.1:${sitePort}
`,
    ENV,
    'http2: true',
  ));
});

after(() => closeAll(gw, provider, app, site, authService));

/** A signed-in browser's cookies, with the site's own, another route's session and a sign-in under way beside them. */
async function signedInCookies(): Promise<{ session: string; all: string }> {
  const browser = new HttpBrowser();
  const back = await browser.signIn(await browser.go(`${gw.url}/page`), 'alice');
  assert.equal(back.status, 200, back.text.slice(0, 300));
  const session = browser.cookiesStarting('127.0.0.1', '_candor_session');
  assert.equal(session.length, 1, String(session));
  const all = [
    'theme=dark',
    ...session,
    '_candor_session.1=part',
    '_candor_session_flow_AbCdEfGhIjKl=flow',
    'staff_session=other',
    'staff_session_flow_AbCdEfGhIjKl=flow',
    'lang=en',
  ].join('; ');
  return { session: session[0], all };
}

test("a route without auth never passes the gateway's session and flow cookies to its upstream; the app's own cookies go on", async () => {
  const { session, all } = await signedInCookies();
  // The cookie is the session: replayed on the sign-in's route by whoever holds it, it is let in.
  const replayed = await request(gw.url, { path: '/page', headers: { cookie: session } });
  assert.equal(replayed.status, 200);
  assert.equal(replayed.text, 'app');
  siteSaw.length = 0;
  const res = await request(gw.url, { path: '/site/news', headers: { cookie: all } });
  assert.equal(res.status, 200);
  assert.deepEqual(siteSaw, ['theme=dark; lang=en']);
});

test("over HTTP/2, the cookies in crumbs: the gateway's taken out, the app's joined and passed on", async () => {
  const cookies = (await signedInCookies()).all.split('; ');
  siteSaw.length = 0;
  const client = http2.connect(gw.url);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const stream = client.request({ ':path': '/site/news', cookie: cookies });
      let got = 0;
      stream.on('response', (head) => {
        got = Number(head[':status']);
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(got));
      stream.resume();
    });
    assert.equal(status, 200);
  } finally {
    client.close();
  }
  assert.deepEqual(siteSaw, ['theme=dark; lang=en']);
});

test("an upstream's Set-Cookie of the gateway's session or flow cookies never reaches the browser; its own cookies do", async () => {
  const res = await request(gw.url, { path: '/site/plant' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.headers['set-cookie'], ['theme=light; Path=/']);
});

test("a forward-auth service of another route (send_headers' default, Cookie) is never sent the gateway's session and flow cookies; the app's own go", async () => {
  const { all } = await signedInCookies();
  authSaw.length = 0;
  siteSaw.length = 0;
  const res = await request(gw.url, { path: '/guarded/report', headers: { cookie: all } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(authSaw, ['theme=dark; lang=en']);
  assert.deepEqual(siteSaw, ['theme=dark; lang=en']);
});
