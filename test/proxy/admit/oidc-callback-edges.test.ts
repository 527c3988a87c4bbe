/**
 * The provider's answer at the redirect path, taken apart as an outsider would send it (OpenID
 * Connect Core §3.1.2.5–6, RFC 6749 §4.1.2, RFC 9207): the user's refusal and `login_required`
 * a 401 saying so, with a link back to the page asked for and the flow cookie cleared; an
 * answer without its code (or with two), a state this browser was not given, another
 * browser's flow cookie, an `iss` that is not the provider's, a code the provider no longer
 * takes (`invalid_grant`); and the logout without a session, a session cookie truncated, sealed
 * with another key, or split with a part missing, a refresh token the provider no longer takes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
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
import type { TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_EDGE_CLIENT_SECRET: CLIENT_SECRET, OIDC_EDGE_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;
let reached = 0;

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (req, res) => {
      reached++;
      res.end(`hello ${req.headers['x-user']}`);
    },
    (issuer, appUrl) => `routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      identity_header: X-User
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_EDGE_CLIENT_SECRET
        post_logout_redirect: /bye
        cookie: { secret_env: OIDC_EDGE_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

/** A sign-in begun by a fresh browser at `page`: its state and its flow cookie, as a Cookie field. */
async function begun(page = '/page'): Promise<{ state: string; cookie: string }> {
  const browser = new HttpBrowser();
  const first = await browser.go(`${gw.url}${page}`, () => true);
  assert.equal(first.status, 302);
  const state = new URL(first.headers.location as string).searchParams.get('state') as string;
  return { state, cookie: browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').join('; ') };
}

/** The gateway's answer to the provider's answer `params`, sent with `cookie`, as a browser asks (or `accept`). */
async function callback(params: Record<string, string>, cookie: string, accept = 'text/html') {
  return request(gw.url, {
    path: `/oauth2/callback?${new URLSearchParams(params)}`,
    headers: { accept, cookie },
  });
}

/** The Set-Cookie fields of `res` that clear the cookie named `name`. */
function cleared(res: { headers: http.IncomingHttpHeaders }, name: string): string[] {
  const fields = res.headers['set-cookie'] ?? [];
  return fields.filter((field) => field.startsWith(`${name}=;`) && /; Max-Age=0(;|$)/.test(field));
}

for (const error of ['access_denied', 'login_required', 'consent_required', 'interaction_required'])
  test(`the provider's ${error} is the sign-in's 401: the page says it was declined, links to the page asked for, and clears the flow cookie`, async () => {
    const { state, cookie } = await begun('/page?tab=2&x=1');
    const flowCookie = cookie.slice(0, cookie.indexOf('='));
    const res = await callback({ error, state, iss: provider.issuer }, cookie);
    assert.equal(res.status, 401, res.text);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.ok(
      res.text.includes(`the sign-in was declined or not completed at the identity provider (${error})`),
      res.text,
    );
    // The way back: the page first asked for, a path of this host, its query's & escaped in the attribute.
    assert.ok(res.text.includes('<a href="/page?tab=2&amp;x=1">Sign in again</a>'), res.text);
    assert.ok(!res.text.includes('valid credentials'), res.text);
    assert.equal(res.headers.location, undefined);
    assert.equal(cleared(res, flowCookie).length, 1, String(res.headers['set-cookie']));
    assert.match(res.headers['cache-control'] as string, /no-store/);
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.status, 401);
    assert.equal(line.auth, `denied: oidc provider said ${error}`);
  });

// The provider's own words on why (RFC 6749 §4.1.2.1's error_description) are the operator's to
// read on the line: `invalid_scope` alone left them guessing which scope. Never on the page (any
// link may carry them), and on the line with control characters escaped and bounded.
test("the provider's error_description is on the log line, escaped and bounded, never on the page", async () => {
  const { state, cookie } = await begun('/page');
  const description = `scope "admin" is not allowed\n{"forged":1}<script>x</script>${'y'.repeat(300)}`;
  const res = await callback(
    { error: 'invalid_scope', error_description: description, state, iss: provider.issuer },
    cookie,
  );
  assert.equal(res.status, 401, res.text);
  assert.ok(!res.text.includes('not allowed') && !res.text.includes('<script>x'), res.text);
  const line = await gw.logFor(res.headers['x-request-id'] as string);
  assert.equal(
    line.auth,
    `denied: oidc provider said invalid_scope (scope "admin" is not allowed\\x0a{"forged":1}<script>x</script>${'y'.repeat(141)}…)`,
  );
});

// Cut at 200 UTF-16 units, a description whose 200th is the first half of an emoji's pair left
// that half alone, which JSON.stringify writes as the escape `\ud83d`: a line strict JSON readers
// (Rust's serde_json, so Vector's parse_json) refuse whole, though anyone can send such a callback.
test('an error_description cut inside a surrogate pair leaves no half of it on the log line: U+FFFD', async () => {
  const { state, cookie } = await begun('/page');
  const res = await callback(
    {
      error: 'invalid_scope',
      error_description: `${'a'.repeat(199)}\u{1F600}tail`,
      state,
      iss: provider.issuer,
    },
    cookie,
  );
  assert.equal(res.status, 401, res.text);
  const line = await gw.logFor(res.headers['x-request-id'] as string);
  assert.equal(line.auth, `denied: oidc provider said invalid_scope (${'a'.repeat(199)}\ufffd…)`);
});

test('a declined sign-in told to a program is the same 401 in problem+json, its advice naming the path to ask again', async () => {
  const { state, cookie } = await begun('/reports');
  const res = await callback(
    { error: 'access_denied', state, iss: provider.issuer },
    cookie,
    'application/json',
  );
  assert.equal(res.status, 401, res.text);
  assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
  const problem = JSON.parse(res.text);
  assert.equal(problem.error, 'http_request_denied');
  assert.equal(problem.retryable, false);
  assert.equal(
    problem.details,
    'the sign-in was declined or not completed at the identity provider (access_denied)',
  );
  assert.match(
    problem.advice,
    /^Nothing was signed in\. To try again, ask for \/reports: it begins a new sign-in\.$/,
  );
});

test('a declined sign-in whose flow names no path of this host links to the root, never elsewhere', async () => {
  // A flow sealed with the gateway's key (as only it can) whose path is another host's: the link never follows it.
  const flowKey = createHash('sha256').update(`${provider.issuer}\n${CLIENT_ID}`).digest('base64url');
  const seal = new CookieSeal(COOKIE_SECRET, `flow ${flowKey}`);
  for (const r of ['//evil.example/x', '/\\evil.example/x', 'https://evil.example/']) {
    const state = randomBytes(32).toString('base64url');
    const flow = { s: state, n: 'n', v: 'v'.repeat(43), r, t: Date.now() };
    const cookie = `_candor_session_flow_${state.slice(0, 12)}=${await seal.seal(flow)}`;
    const res = await callback({ error: 'access_denied', state, iss: provider.issuer }, cookie);
    assert.equal(res.status, 401, res.text);
    assert.ok(res.text.includes('<a href="/">Sign in again</a>'), res.text);
    assert.ok(!res.text.includes('evil.example'), res.text);
  }
});

// RFC 6749 §4.1.2.1's `error` is printable ASCII but `"` and `\`; a provider's (or one
// answering for it) reached the 401's three bodies as sent: its ESC recoloured the terminal of
// the curl that read the text/plain one, its CR and LF forged lines there, its bidi override
// turned the text around. Its `error_description` and `error_uri` are never shown.
test("the provider's error code holding markup, ESC, CR/LF and a bidi override is shown with each of those a '?'", async () => {
  const error = 'odd<script>alert(1)</script>"\x1b[31m\u202e&\r\nforged: line';
  const shown = 'odd<script>alert(1)</script>??[31m?&??forged: line';
  const details = `the identity provider refused the sign-in (${shown})`;
  const control = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
  const said = (res: { text: string }) => assert.doesNotMatch(res.text, control, JSON.stringify(res.text));
  for (const accept of ['text/html', 'application/json', 'text/plain']) {
    const { state, cookie } = await begun();
    const res = await callback(
      { error, error_description: error, error_uri: 'javascript:alert(2)', state, iss: provider.issuer },
      cookie,
      accept,
    );
    assert.equal(res.status, 401, res.text);
    said(res);
    assert.ok(!res.text.includes('javascript:alert(2)'), res.text);
    if (accept === 'application/json') assert.equal(JSON.parse(res.text).details, details);
    else if (accept === 'text/plain') assert.ok(res.text.includes(`Details: ${details}.\n`), res.text);
    else
      assert.ok(
        res.text.includes('(odd&lt;script&gt;alert(1)&lt;/script&gt;??[31m?&amp;??forged: line)'),
        res.text,
      );
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.details, details);
    // The provider's own words beside it on the line (3b9e4338), their control characters escaped.
    assert.equal(
      line.auth,
      `denied: oidc provider said ${shown} (odd<script>alert(1)</script>"\\x1b[31m\\u202e&\\x0d\\x0aforged: line)`,
    );
    assert.doesNotMatch(line.auth, control);
  }
});

test('an answer with its state but no code, or two, is the browser’s 400, not the provider’s 502', async () => {
  for (const codes of [[], ['a', 'b']]) {
    const { state, cookie } = await begun();
    const asked = provider.asked.get('/token') ?? 0;
    const query = new URLSearchParams({ state, iss: provider.issuer });
    for (const code of codes) query.append('code', code);
    const res = await request(gw.url, {
      path: `/oauth2/callback?${query}`,
      headers: { accept: 'text/html', cookie },
    });
    assert.equal(res.status, 400, res.text);
    assert.match(res.headers['proxy-status'] as string, /^candor; error=http_request_error; /);
    assert.equal(provider.asked.get('/token') ?? 0, asked);
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.auth, 'denied: oidc bad authorization answer');
  }
});

test('a state this browser was not given, and another browser’s flow cookie, are 400: the token endpoint never asked', async () => {
  const mine = await begun();
  const theirs = await begun();
  const asked = provider.asked.get('/token') ?? 0;
  const unknown = await callback({ code: 'x', state: 'A'.repeat(43), iss: provider.issuer }, mine.cookie);
  assert.equal(unknown.status, 400);
  // Their state with my cookie, and their cookie renamed to the name of my state.
  const crossed = await callback({ code: 'x', state: theirs.state, iss: provider.issuer }, mine.cookie);
  assert.equal(crossed.status, 400);
  const renamed = `${mine.cookie.slice(0, mine.cookie.indexOf('='))}${theirs.cookie.slice(theirs.cookie.indexOf('='))}`;
  const swapped = await callback({ code: 'x', state: mine.state, iss: provider.issuer }, renamed);
  assert.equal(swapped.status, 400);
  assert.match(swapped.text, /not the one this browser was given/);
  assert.equal(provider.asked.get('/token') ?? 0, asked);
  const lines = await Promise.all(
    [unknown, crossed, swapped].map((r) => gw.logFor(r.headers['x-request-id'] as string)),
  );
  assert.deepEqual(
    lines.map((l) => l.auth),
    ['denied: oidc no flow', 'denied: oidc no flow', 'denied: oidc state mismatch'],
  );
});

test('a callback whose flow cookie is gone is the browser’s 400, its page and advice a new sign-in at the root', async () => {
  // Past its ten minutes, or the oldest of six tabs signing in at once: where it began went with it.
  const { state } = await begun('/page?tab=6');
  const page = await callback({ code: 'x', state, iss: provider.issuer }, '');
  assert.equal(page.status, 400, page.text);
  assert.ok(page.text.includes('no sign-in of this browser is under way'), page.text);
  assert.ok(page.text.includes('<a href="/">Sign in again</a>'), page.text);
  assert.ok(!page.text.includes('change the request'), page.text);
  const json = await callback({ code: 'x', state, iss: provider.issuer }, '', 'application/json');
  assert.equal(json.status, 400);
  assert.equal(
    JSON.parse(json.text).advice,
    'Nothing was signed in. To try again, ask for /: it begins a new sign-in.',
  );
  assert.equal((await gw.logFor(json.headers['x-request-id'] as string)).auth, 'denied: oidc no flow');
});

test('an iss that is not the provider’s, or none where it advertises them (RFC 9207), is refused before the code is spent', async () => {
  for (const iss of ['http://127.0.0.1:1', undefined]) {
    const { state, cookie } = await begun();
    const asked = provider.asked.get('/token') ?? 0;
    const res = await callback({ code: 'x', state, ...(iss === undefined ? {} : { iss }) }, cookie);
    assert.equal(res.status, 400, res.text);
    assert.equal(provider.asked.get('/token') ?? 0, asked);
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.auth, 'denied: oidc bad authorization answer');
  }
});

test('a code the provider no longer takes (invalid_grant) is a 401, and the page asked again begins a fresh sign-in', async () => {
  const { state, cookie } = await begun();
  const res = await callback({ code: 'a-code-never-issued', state, iss: provider.issuer }, cookie);
  assert.equal(res.status, 401, res.text);
  assert.match(res.text, /refused the sign-in&#39;s code \(invalid_grant\)/);
  const line = await gw.logFor(res.headers['x-request-id'] as string);
  assert.equal(line.auth, 'denied: oidc token endpoint said invalid_grant');
  const again = await request(gw.url, { path: '/page', headers: { accept: 'text/html', cookie } });
  assert.equal(again.status, 302);
  assert.ok(String(again.headers.location).startsWith(`${provider.issuer}/auth?`));
});

test('the logout without a session clears the cookies and goes to the provider’s logout, without a hint', async () => {
  const res = await request(gw.url, { path: '/oauth2/sign_out', headers: { accept: 'text/html' } });
  assert.equal(res.status, 302);
  const location = new URL(res.headers.location as string);
  assert.equal(location.origin, provider.issuer);
  assert.equal(location.searchParams.get('id_token_hint'), null);
  assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${gw.url}/bye`);
  assert.ok((res.headers['set-cookie'] ?? []).some((c) => /^_candor_session=;/.test(c)));
});

test('a session cookie truncated, sealed with another key, or split with a part missing is no session', async () => {
  const browser = new HttpBrowser();
  const page = await browser.signIn(await browser.go(`${gw.url}/`), 'alice');
  assert.equal(page.text, 'hello alice');
  const cookie = browser.cookie('127.0.0.1', '_candor_session') as string;
  const mine = new CookieSeal(COOKIE_SECRET, 'session');
  const other = new CookieSeal('another gateway’s session secret, 32+ characters', 'session');
  const opened = mine.open(cookie) as Record<string, unknown>;
  const foreign = await other.seal(opened);
  const before = reached;
  for (const value of [cookie.slice(0, -10), cookie.slice(0, cookie.length / 2), foreign, '', 'x.y.z.w.v']) {
    const res = await request(gw.url, { path: '/x', headers: { cookie: `_candor_session=${value}` } });
    assert.equal(res.status, 401, value.slice(0, 20));
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  }
  // Split in two, each half sent alone as its numbered part.
  const half = Math.floor(cookie.length / 2);
  for (const parts of [
    `_candor_session.1=${cookie.slice(0, half)}`,
    `_candor_session.2=${cookie.slice(half)}`,
    `_candor_session.1=${cookie.slice(0, half)}; _candor_session.3=${cookie.slice(half)}`,
  ]) {
    const res = await request(gw.url, { path: '/x', headers: { cookie: parts } });
    assert.equal(res.status, 401, parts.slice(0, 30));
  }
  assert.equal(reached, before);
});

test('a refresh token the provider refuses (invalid_grant) ends the session: a program gets 401, a browser a fresh sign-in', async () => {
  const browser = new HttpBrowser();
  const page = await browser.signIn(await browser.go(`${gw.url}/`), 'bob');
  assert.equal(page.text, 'hello bob');
  const seal = new CookieSeal(COOKIE_SECRET, 'session');
  const session = seal.open(browser.cookie('127.0.0.1', '_candor_session') as string) as Record<
    string,
    unknown
  >;
  // Its tokens a second from their end, its refresh token one the provider never issued (revoked).
  const ending = await seal.seal({
    ...session,
    r: 'a-revoked-refresh-token',
    a: Date.now() - 3600_000,
    e: Date.now() + 1000,
  });
  const before = reached;
  const api = await request(gw.url, { path: '/renew', headers: { cookie: `_candor_session=${ending}` } });
  assert.equal(api.status, 401, api.text);
  assert.equal(api.headers['www-authenticate'], 'Bearer');
  const html = await request(gw.url, {
    path: '/renew',
    headers: { accept: 'text/html', cookie: `_candor_session=${ending}` },
  });
  assert.equal(html.status, 302);
  assert.ok(String(html.headers.location).startsWith(`${provider.issuer}/auth?`));
  assert.equal(reached, before);
  const lines = await Promise.all([api, html].map((r) => gw.logFor(r.headers['x-request-id'] as string)));
  assert.deepEqual(
    lines.map((l) => l.auth),
    ['denied: oidc session refresh refused', 'denied: oidc session refresh refused, sign-in begun'],
  );
});
