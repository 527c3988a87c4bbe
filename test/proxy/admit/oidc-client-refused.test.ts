/**
 * A token endpoint that refuses the gateway's own client (its secret wrong at the provider:
 * `invalid_client` or `unauthorized_client`, RFC 6749 §5.2) refuses every user for the gateway's
 * doing, not the user's: the hop's answer the gateway cannot use, a 502 naming it, never a 401
 * telling the user their sign-in was refused, nor a session ended at its renewal.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, afterEach, before, test } from 'node:test';
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

const ENV = { OIDC_REFUSED_CLIENT_SECRET: CLIENT_SECRET, OIDC_REFUSED_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;
const users: (string | undefined)[] = [];

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (req, res) => {
      users.push(req.headers['x-user'] as string | undefined);
      res.writeHead(200).end('app');
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
        client_secret_env: OIDC_REFUSED_CLIENT_SECRET
        cookie: { secret_env: OIDC_REFUSED_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

afterEach(() => {
  provider.mode = 'ok';
  provider.modeAt = undefined;
  provider.refusedCode = 'unauthorized_client';
});

after(() => closeAll(gw, provider, app));

const PROXY_STATUS =
  /^candor; error=http_protocol_error; details="the token endpoint: it refused the gateway's client \(401, \\"unauthorized_client\\"\): check client_id and client_secret_env with the provider"; next-hop="auth:oidc"$/;

test("the token endpoint's unauthorized_client at the sign-in is the hop's 502, not the user's 401", async () => {
  const browser = new HttpBrowser();
  const login = await browser.go(`${gw.url}/page`);
  assert.equal(login.status, 200, login.text.slice(0, 300));
  provider.mode = 'client-refused';
  provider.modeAt = '/token';
  const back = await browser.signIn(login, 'alice');
  assert.ok(back.url.startsWith(`${gw.url}/oauth2/callback?`), back.url);
  assert.equal(back.status, 502, back.text.slice(0, 500));
  assert.equal(back.headers['www-authenticate'], undefined);
  assert.equal(back.headers['retry-after'], undefined);
  assert.match(back.headers['proxy-status'] as string, PROXY_STATUS);
  assert.match(back.headers['content-type'] as string, /^text\/html/);
  const line = await gw.logFor(back.headers['x-request-id'] as string);
  assert.equal(line.auth, 'failed: http_protocol_error');
  assert.equal(line.status, 502);
});

/** A session cookie of `alice` with a refresh token, its tokens ending at `ends` (Date.now()). */
async function sessionEnding(ends: number): Promise<string> {
  const sealed = await new CookieSeal(COOKIE_SECRET, 'session').seal({
    // The ID token's claims as this route's provider issued them to its client.
    c: { sub: 'alice', iss: provider.issuer, aud: CLIENT_ID },
    r: 'a refresh token',
    a: ends - 3_600_000,
    e: ends,
  });
  return `_candor_session=${sealed}`;
}

test('a renewal refused for the client keeps a session still good going, not signed out', async () => {
  provider.mode = 'client-refused';
  provider.modeAt = '/token';
  const res = await request(gw.url, {
    path: '/api',
    headers: { accept: 'application/json', cookie: await sessionEnding(Date.now() + 20_000) },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(users.at(-1), 'alice');
  assert.equal(res.headers['set-cookie'], undefined);
});

test("a session past its end whose renewal is refused for the client is the hop's 502, not a 401", async () => {
  provider.mode = 'client-refused';
  provider.modeAt = '/token';
  const res = await request(gw.url, {
    path: '/api',
    headers: { accept: 'application/json', cookie: await sessionEnding(Date.now() - 1000) },
  });
  assert.equal(res.status, 502, res.text);
  assert.equal(res.headers['www-authenticate'], undefined);
  assert.match(res.headers['proxy-status'] as string, PROXY_STATUS);
  const line = await gw.logFor(res.headers['x-request-id'] as string);
  assert.equal(line.auth, 'failed: http_protocol_error');
});

test("a refusing token endpoint's error code of terminal escapes is quoted with '?' for what an OAuth code may not hold: no body carries them", async () => {
  // The provider's words reach every body of the 502 (the text/plain one read in a terminal):
  // JSON.stringify escaped ESC but left C1's CSI (0x9b), DEL and a bidi override raw, as the
  // redirect path's `error` is quoted (RFC 6749 Appendix A.7: %x20-21 / %x23-5B / %x5D-7E).
  provider.mode = 'client-refused';
  provider.modeAt = '/token';
  provider.refusedCode = 'bad\u009b2J\u001b]0;x\u0007\u202e\u007f"\\';
  for (const accept of ['text/plain', 'application/json', 'text/html']) {
    const res = await request(gw.url, {
      path: '/api',
      headers: { accept, cookie: await sessionEnding(Date.now() - 1000) },
    });
    assert.equal(res.status, 502, res.text);
    assert.match(
      res.headers['proxy-status'] as string,
      /details="the token endpoint: it refused the gateway's client \(401, \\"bad\?2J\?\]0;x\?\?\?\?\?\\"\)/,
    );
    assert.match(res.text, /bad\?2J\?\]0;x\?\?\?\?\?/, accept);
    assert.doesNotMatch(res.text, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/, accept);
  }
});
