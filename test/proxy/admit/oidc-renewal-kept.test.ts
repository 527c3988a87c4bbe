/**
 * A renewal's result is kept 30 s for the requests that still carry the cookie before it (a
 * page's parallel requests). A kept result that has itself ended since (a provider whose access
 * tokens live less than that) is no session: the request carrying it is renewed at the provider,
 * and with the provider down, a session past its end is the hop's failure, never let in.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { CookieSeal } from '../../../src/proxy/admit/oidc/session-cookie.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  COOKIE_SECRET,
  HttpBrowser,
  startProvider,
} from '../../helpers/oidc-provider.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_KEPT_CLIENT_SECRET: CLIENT_SECRET, OIDC_KEPT_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);
/** The access tokens' life at the provider, in seconds: less than the 30 s a renewal is kept. */
const TTL = 3;

let app: http.Server;
let reached = 0;
before(async () => {
  app = http.createServer((_req, res) => {
    reached++;
    res.writeHead(200).end('app');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
});
after(() => closeAll(app));

test('a session renewed, then past its end with the provider down: 502 of auth:oidc, not let in on the kept renewal', async () => {
  const provider = await startProvider();
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${provider.issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_KEPT_CLIENT_SECRET
        scopes: [offline_access]
        cookie: { secret_env: OIDC_KEPT_COOKIE_SECRET }
        timeout: 1s
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
`,
    ENV,
  );
  try {
    await provider.register(gw.url, { accessTokenTtl: TTL });
    const browser = new HttpBrowser();
    assert.equal((await browser.signIn(await browser.go(`${gw.url}/`), 'alice')).text, 'app');
    // The session as signed in, made to be at its renewal: renewed at the provider (up).
    const seal = new CookieSeal(COOKIE_SECRET, 'session');
    const opened = seal.open(browser.cookie('127.0.0.1', '_candor_session') as string) as Record<
      string,
      unknown
    >;
    const due = await seal.seal({ ...opened, a: Date.now() - 60_000, e: Date.now() + 500 });
    const renewal = await request(gw.url, { path: '/renew', headers: { cookie: `_candor_session=${due}` } });
    assert.equal(renewal.status, 200);
    const renewedCookie = (renewal.headers['set-cookie'] ?? []).find((c) => c.startsWith('_candor_session='));
    assert.ok(renewedCookie, 'the renewed session is sent back');
    const renewed = renewedCookie.split(';')[0];
    const session = seal.open(renewed.slice('_candor_session='.length)) as { e: number; r?: string };
    assert.equal(
      session.r,
      opened.r,
      "this provider keeps a confidential client's refresh token (no rotation)",
    );
    // The renewed session ends (its tokens' TTL), well within the 30 s its renewal is kept; the provider goes down.
    await provider.stop();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, session.e - Date.now()) + 200));
    const before = reached;
    const ended = await request(gw.url, {
      path: '/ended',
      headers: { accept: 'text/html', cookie: renewed },
    });
    assert.equal(ended.status, 502, ended.text);
    assert.match(
      ended.headers['proxy-status'] as string,
      /^edge-1; error=connection_refused; details="[^"]*"; next-hop="auth:oidc"$/,
    );
    assert.equal(reached, before, 'nothing reached the app');
  } finally {
    await closeAll(gw, provider);
  }
});
