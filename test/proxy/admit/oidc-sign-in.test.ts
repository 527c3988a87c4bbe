/**
 * OpenID Connect sign-in at the edge against a real provider (oidc-provider) on loopback: the
 * code flow end to end by plain HTTP requests, the session's cookie, the identity passed on and
 * logged, the API client's 401, a replayed state, a tampered and an expired cookie, the
 * refresh, the logout.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, test } from 'node:test';
import { CookieSeal } from '../../../src/proxy/admit/oidc/session-cookie.ts';
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
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** The secrets, in the variables the config names: its checks read them, and the gateway when it builds the route. */
const ENV = { OIDC_TEST_CLIENT_SECRET: CLIENT_SECRET, OIDC_TEST_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;
/** What reached the app: each request's path, user field and cookies. */
const seen: {
  path: string;
  user: string | undefined;
  cookie: string | undefined;
  authorization: string | undefined;
}[] = [];

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (req, res) => {
      seen.push({
        path: req.url ?? '',
        user: req.headers['x-user'] as string | undefined,
        cookie: req.headers.cookie,
        authorization: req.headers.authorization,
      });
      res
        .writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=600' })
        .end(`hello ${req.headers['x-user']}`);
    },
    (issuer, appUrl) => `name: edge-1
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      identity_header: X-User
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_TEST_CLIENT_SECRET
        scopes: [email, groups, offline_access]
        post_logout_redirect: /bye
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
        timeout: 2s
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

const seal = new CookieSeal(COOKIE_SECRET, 'session');

/** A browser signed in as `user`, at the page it asked for. */
async function signedIn(
  user: string,
  path = '/orders?page=2',
): Promise<{ browser: HttpBrowser; page: Awaited<ReturnType<HttpBrowser['go']>> }> {
  const browser = new HttpBrowser();
  const login = await browser.go(`${gw.url}${path}`);
  assert.equal(login.status, 200, login.text.slice(0, 300));
  assert.ok(login.url.startsWith(`${provider.issuer}/interaction/`), login.url);
  const page = await browser.signIn(login, user);
  return { browser, page };
}

test('the code flow end to end: the provider’s login, back to the page asked for, the user passed on and logged', async () => {
  const browser = new HttpBrowser();
  const first = await browser.go(`${gw.url}/orders?page=2`, () => true);
  assert.equal(first.status, 302);
  const location = new URL(first.headers.location as string);
  assert.equal(location.origin + location.pathname, `${provider.issuer}/auth`);
  assert.equal(location.searchParams.get('client_id'), CLIENT_ID);
  assert.equal(location.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(location.searchParams.get('redirect_uri'), `${gw.url}/oauth2/callback`);
  assert.equal(location.searchParams.get('scope'), 'openid email groups offline_access');
  assert.ok(location.searchParams.get('state'));
  assert.ok(location.searchParams.get('nonce'));
  const flow = (first.headers['set-cookie'] ?? []).find((c) => c.startsWith('_candor_session_flow_'));
  assert.match(flow ?? '', /; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600$/);

  const { browser: signed, page } = await signedIn('alice');
  assert.equal(page.status, 200, page.text);
  assert.equal(page.url, `${gw.url}/orders?page=2`);
  assert.equal(page.text, 'hello alice');
  const reached = seen.at(-1);
  assert.equal(reached?.user, 'alice');
  // The sealed cookies stay at the gateway (the provider's, on the same host, go on: a browser sends them).
  assert.ok(reached?.cookie?.includes('_session='));
  assert.ok(!reached?.cookie?.includes('_candor_session'), reached?.cookie);
  assert.ok(signed.cookie('127.0.0.1', '_candor_session'));
  assert.deepEqual(signed.cookiesStarting('127.0.0.1', '_candor_session_flow_'), []);
  const again = await signed.go(`${gw.url}/profile`);
  assert.equal(again.text, 'hello alice');
  const line = gw.logs.filter((l) => l.msg === 'request' && l.path === '/profile').at(-1);
  assert.equal(line?.user, 'alice');
  assert.equal(line?.auth, 'allowed');
});

test('a page asked with a long query keeps a flow cookie a browser keeps (4096 bytes, RFC 6265 §6.1), and comes back to its path', async () => {
  // Chromium drops a cookie whose name and value pass 4096 bytes: the provider's answer then
  // found no sign-in under way, a 400 after every login for a deep link with a long query.
  const path = `/reports?filter=${'x'.repeat(3500)}`;
  const first = await request(gw.url, { path, headers: { accept: 'text/html' } });
  assert.equal(first.status, 302);
  const flow = (first.headers['set-cookie'] ?? []).find((c) => c.startsWith('_candor_session_flow_'));
  assert.ok(flow !== undefined);
  assert.ok(flow.length <= 4096, `a flow cookie of ${flow.length} bytes`);
  const { page } = await signedIn('grace', path);
  assert.equal(page.status, 200, page.text);
  assert.equal(
    page.url,
    `${gw.url}/reports`,
    'the path asked for, without the query its cookie could not hold',
  );
});

test('two sign-ins begun at once in one browser (two tabs) each come back to their page', async () => {
  const browser = new HttpBrowser();
  const first = await browser.go(`${gw.url}/tab-one`, () => true);
  const second = await browser.go(`${gw.url}/tab-two`, () => true);
  assert.equal(browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').length, 2);
  const one = await browser.signIn(await browser.go(first.headers.location as string), 'frank');
  assert.equal(one.url, `${gw.url}/tab-one`);
  // Signed in at the provider already: the second comes straight back.
  const two = await browser.go(second.headers.location as string);
  assert.equal(two.url, `${gw.url}/tab-two`);
  assert.equal(two.text, 'hello frank');
  assert.deepEqual(browser.cookiesStarting('127.0.0.1', '_candor_session_flow_'), []);
});

test('an API client gets 401 with a challenge, never a redirect to a login page', async () => {
  const before = seen.length;
  for (const headers of [
    { accept: 'application/json' },
    { accept: 'text/html', authorization: 'Bearer abc' },
    {},
  ]) {
    const res = await request(gw.url, { path: '/orders', headers });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.equal(res.headers.location, undefined);
  }
  assert.equal(seen.length, before);
});

test('an Accept that refuses text/html (q=0) is no browser’s: 401, not sent to sign in; one that takes it at any weight is', async () => {
  const before = seen.length;
  for (const accept of [
    'text/html;q=0, application/json',
    'application/json, text/html; q=0.000',
    'text/html-sandboxed',
  ]) {
    const res = await request(gw.url, { path: '/orders', headers: { accept } });
    assert.equal(res.status, 401, accept);
    assert.equal(res.headers['www-authenticate'], 'Bearer', accept);
    assert.equal(res.headers.location, undefined, accept);
    assert.equal(res.headers['set-cookie'], undefined, accept);
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.auth, 'denied: oidc no session', accept);
  }
  for (const accept of ['application/json;q=0.9, TEXT/HTML;q=0.1', 'text/html;level=1;q=0.5']) {
    const res = await request(gw.url, { path: '/orders', headers: { accept } });
    assert.equal(res.status, 302, accept);
    assert.ok(String(res.headers.location).startsWith(`${provider.issuer}/auth?`), accept);
  }
  assert.equal(seen.length, before);
});

test('a page’s script asking for HTML (htmx, Turbo: Sec-Fetch-Mode cors or same-origin) gets 401, not a redirect its fetch cannot follow to the provider; a navigation is sent to sign in', async () => {
  const before = seen.length;
  // A fetch() follows a redirect in its own mode: to the provider's origin it needs CORS fields
  // no provider's login page carries, so the script read "Failed to fetch", not the 401 it can act on.
  for (const mode of ['cors', 'same-origin', 'no-cors']) {
    const res = await request(gw.url, {
      path: '/orders/7',
      headers: { accept: 'text/html, */*; q=0.01', 'sec-fetch-mode': mode, 'sec-fetch-dest': 'empty' },
    });
    assert.equal(res.status, 401, mode);
    assert.equal(res.headers['www-authenticate'], 'Bearer', mode);
    assert.equal(res.headers.location, undefined, mode);
    assert.equal(res.headers['set-cookie'], undefined, mode);
    assert.equal(
      (await gw.logFor(res.headers['x-request-id'] as string)).auth,
      'denied: oidc no session',
      mode,
    );
  }
  const page = await request(gw.url, {
    path: '/orders/7',
    headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
  });
  assert.equal(page.status, 302);
  assert.ok(String(page.headers.location).startsWith(`${provider.issuer}/auth?`));
  assert.equal(seen.length, before);
});

test('a form a person posts without a session (it ended while they typed) gets the 401 page with a way to sign in, not advice meant for a program', async () => {
  const before = seen.length;
  const res = await request(gw.url, {
    method: 'POST',
    path: '/orders?draft=1',
    headers: {
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      'sec-fetch-mode': 'navigate',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'item=7',
  });
  assert.equal(res.status, 401, res.text);
  assert.equal(res.headers['www-authenticate'], 'Bearer');
  assert.equal(res.headers.location, undefined);
  assert.match(res.headers['content-type'] as string, /^text\/html/);
  // A GET of the page begins the sign-in and comes back to it; the form's body is not kept.
  assert.ok(res.text.includes('<a href="/orders?draft=1">Sign in again</a>'), res.text);
  assert.ok(!res.text.includes('valid credentials'), res.text);
  // A program's POST (no HTML asked for) keeps the challenge's advice.
  const api = await request(gw.url, {
    method: 'POST',
    path: '/orders',
    headers: { accept: 'application/json' },
    body: '{}',
  });
  assert.equal(api.status, 401);
  assert.equal(JSON.parse(api.text).advice.includes('Sign in'), false, api.text);
  assert.equal(seen.length, before);
});

test('a replayed state is refused (400), and the provider’s answer without the browser’s flow cookie too', async () => {
  const browser = new HttpBrowser();
  const login = await browser.go(`${gw.url}/`);
  const [flow] = browser.cookiesStarting('127.0.0.1', '_candor_session_flow_');
  const back = await browser.signIn(login, 'bob');
  assert.equal(back.status, 200);
  // The same answer (state and code) again, with the same flow cookie: refused, not a session.
  const callback = gw.logs
    .filter((l) => l.msg === 'request' && String(l.path).startsWith('/oauth2/callback'))
    .at(-1);
  const res = await request(gw.url, {
    path: String(callback?.path),
    headers: { accept: 'text/html', cookie: flow },
  });
  assert.equal(res.status, 400);
  assert.match(res.text, /used already/);
  assert.equal(res.headers['set-cookie'], undefined);
  const bare = await request(gw.url, { path: String(callback?.path), headers: { accept: 'text/html' } });
  assert.equal(bare.status, 400);
});

test('pages asked without a session keep at most five sign-ins under way: each new one clears the oldest flow cookies (no pile up to a 431)', async () => {
  const browser = new HttpBrowser();
  const toProvider = (next: URL) => next.origin === new URL(provider.issuer).origin;
  const made: string[] = [];
  for (let i = 0; i < 9; i++) {
    const page = await browser.go(`${gw.url}/page${i}`, toProvider);
    assert.equal(page.status, 302);
    const cookies = page.headers['set-cookie'] ?? [];
    made.push(cookies[0].slice(0, cookies[0].indexOf('=')));
    // The new flow cookie, then the oldest past four cleared (Max-Age=0), the newest kept.
    const cleared = cookies.slice(1).map((c) => c.slice(0, c.indexOf('=')));
    assert.deepEqual(cleared, i < 5 ? [] : [made[i - 5]]);
    for (const c of cookies.slice(1))
      assert.match(c, /^_candor_session_flow_[\w-]{12}=; Path=\/; HttpOnly; SameSite=Lax; Max-Age=0$/);
  }
  assert.deepEqual(
    browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').map((c) => c.slice(0, c.indexOf('='))),
    made.slice(-5),
  );
  // The newest sign-in still completes.
  const back = await browser.signIn(await browser.go(`${gw.url}/last`), 'erin');
  assert.equal(back.status, 200);
});

test('a tampered cookie and an expired one are no session: a browser signs in again, an API client gets 401', async () => {
  const { browser } = await signedIn('carol');
  const cookie = browser.cookie('127.0.0.1', '_candor_session') as string;
  const flipped = `${cookie.slice(0, -5)}${cookie.at(-5) === 'A' ? 'B' : 'A'}${cookie.slice(-4)}`;
  const session = seal.open(cookie) as Record<string, unknown>;
  assert.equal((session.c as { sub: string }).sub, 'carol');
  const { r: _refresh, ...noRefresh } = session;
  const expired = await seal.seal({ ...noRefresh, a: Date.now() - 7200_000, e: Date.now() - 1000 });
  for (const [what, value] of [
    ['tampered', flipped],
    ['expired', expired],
  ]) {
    const api = await request(gw.url, { path: '/x', headers: { cookie: `_candor_session=${value}` } });
    assert.equal(api.status, 401, what);
    const page = await request(gw.url, {
      path: '/x',
      headers: { accept: 'text/html', cookie: `_candor_session=${value}` },
    });
    assert.equal(page.status, 302, what);
    assert.ok(String(page.headers.location).startsWith(`${provider.issuer}/auth?`), what);
  }
  const line = gw.logs.filter((l) => l.msg === 'request' && l.path === '/x');
  assert.deepEqual(
    line.map((l) => l.auth),
    [
      'denied: oidc session cookie not accepted',
      'denied: oidc session cookie not accepted, sign-in begun',
      'denied: oidc session expired',
      'denied: oidc session expired, sign-in begun',
    ],
  );
});

test('a cookie of the session’s name that the gateway did not seal, sent before the session’s (set by a sibling subdomain for a longer path), signs nobody out', async () => {
  const { browser } = await signedIn('frank');
  const cookie = browser.cookie('127.0.0.1', '_candor_session') as string;
  for (const sent of [
    `_candor_session=tossed; _candor_session=${cookie}`,
    `_candor_session=; _candor_session=${cookie}`,
    `_candor_session=${cookie}; _candor_session=tossed`,
  ]) {
    const api = await request(gw.url, { path: '/mine', headers: { cookie: sent } });
    assert.equal(api.status, 200, sent);
    assert.equal(api.body.toString(), 'hello frank', sent);
    // The app gets none of them: the session's cookies are the gateway's.
    assert.equal(seen.at(-1)?.cookie, undefined, sent);
  }
  const only = await request(gw.url, { path: '/mine', headers: { cookie: '_candor_session=tossed' } });
  assert.equal(only.status, 401);
});

test('a session near its end is renewed with the refresh token, its new cookie on the answer', async () => {
  const { browser } = await signedIn('dave');
  const cookie = browser.cookie('127.0.0.1', '_candor_session') as string;
  const session = seal.open(cookie) as Record<string, unknown>;
  assert.equal(typeof session.r, 'string');
  // Its tokens a second from their end: the next request renews them.
  const ending = await seal.seal({ ...session, a: Date.now() - 3600_000, e: Date.now() + 1000 });
  const tokenCalls = provider.asked.get('/token') ?? 0;
  const res = await request(gw.url, { path: '/renew', headers: { cookie: `_candor_session=${ending}` } });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'hello dave');
  assert.equal(provider.asked.get('/token'), tokenCalls + 1);
  const set = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith('_candor_session='));
  assert.ok(set, JSON.stringify(res.headers));
  assert.match(set, /; Path=\/; HttpOnly; SameSite=Lax$/);
  // One user's answer: no shared cache keeps it, whatever the app said.
  assert.equal(res.headers['cache-control'], 'private, no-store');
  const renewed = seal.open(set.slice('_candor_session='.length).split(';')[0]) as Record<string, number>;
  assert.ok(renewed.e > Date.now() + 60_000);
});

test('a renewed session too large for the cookies: the request goes on, and its line says the session was not kept', async () => {
  const { browser } = await signedIn('erin');
  const session = seal.open(browser.cookie('127.0.0.1', '_candor_session') as string) as Record<
    string,
    unknown
  >;
  const ending = await seal.seal({ ...session, a: Date.now() - 3600_000, e: Date.now() + 1000 });
  // The user's claims grew at the provider: 20000 characters, more than four cookies hold.
  provider.pad = 20_000;
  try {
    const res = await request(gw.url, {
      path: '/grown',
      headers: { cookie: `_candor_session=${ending}`, 'x-request-id': 'grown' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello erin');
    assert.equal(
      (res.headers['set-cookie'] ?? []).filter((c) => c.startsWith('_candor_session')).length,
      0,
      'no cookie could hold it',
    );
    const line = await gw.logFor('grown');
    assert.equal(
      line.auth,
      'allowed: oidc session renewed, but too large for its cookies: not kept (auth.oidc.store keeps sessions in Redis)',
    );
    assert.equal(line.user, 'erin');
  } finally {
    provider.pad = 0;
  }
});

test('the logout clears the session and goes through the provider’s end_session_endpoint', async () => {
  const { browser } = await signedIn('erin');
  const out = await browser.go(`${gw.url}/oauth2/sign_out`, () => true);
  assert.equal(out.status, 302);
  const location = new URL(out.headers.location as string);
  assert.equal(location.origin + location.pathname, `${provider.issuer}/session/end`);
  assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${gw.url}/bye`);
  assert.equal(location.searchParams.get('client_id'), CLIENT_ID);
  assert.ok(location.searchParams.get('id_token_hint'));
  assert.equal(browser.cookie('127.0.0.1', '_candor_session'), undefined);
  const confirm = await browser.go(location.href);
  const done = await browser.submit(confirm, { logout: 'yes' }, (next) => next.href === `${gw.url}/bye`);
  assert.equal(done.status, 303);
  assert.equal(done.headers.location, `${gw.url}/bye`);
  // Back at the gateway without a session: sent to sign in again.
  const bye = await browser.go(`${gw.url}/bye`, () => true);
  assert.equal(bye.status, 302);
  assert.ok(String(bye.headers.location).startsWith(`${provider.issuer}/auth?`));
  const api = await request(gw.url, { path: '/orders' });
  assert.equal(api.status, 401);
});

test('allowed claims: a user without one of the values is refused 403 at the sign-in', async () => {
  // No `await using`: Node 22, which the package runs on, does not parse it.
  const restricted = await gatewayWith('allowed: { groups: [staff] }');
  try {
    const browser = new HttpBrowser();
    const login = await browser.go(`${restricted.gw.url}/`);
    const refused = await browser.signIn(login, 'mallory');
    assert.equal(refused.status, 403);
    assert.equal(browser.cookie('127.0.0.1', '_candor_session'), undefined);
    const staff = new HttpBrowser();
    const admitted = await staff.signIn(await staff.go(`${restricted.gw.url}/`), 'alice');
    assert.equal(admitted.status, 200);
    assert.equal(admitted.text, 'hello undefined');
  } finally {
    await restricted[Symbol.asyncDispose]();
  }
});

/** A second gateway on the same provider (its own redirect URI registered), `extra` in its oidc block. */
async function gatewayWith(
  extra: string,
): Promise<{ gw: TestGateway; [Symbol.asyncDispose](): Promise<void> }> {
  const other = await startTestGateway(
    `name: edge-2
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${provider.issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_TEST_CLIENT_SECRET
        scopes: [groups]
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
        ${extra}
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
`,
    ENV,
  );
  await provider.register(other.url);
  return {
    gw: other,
    [Symbol.asyncDispose]: async () => {
      await other.close();
      await provider.register(gw.url);
    },
  };
}
