/**
 * OpenID Connect sign-in against a hostile browser and a second provider on the same host, with
 * two real providers (oidc-provider) on loopback: two routes of one host signing in at two
 * providers under one cookie name (the default, which `candor check` warns of). A session made
 * at one route's provider is refused at the other's; its logout there clears the cookie, but
 * never hands the first provider's ID token to the second as `id_token_hint` (a token to a
 * party it was not issued to, in a URL: RFC 9700 §4.4's mix-up, OpenID RP-Initiated Logout §2
 * says the hint is an ID token the OP "previously issued").
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  COOKIE_SECRET,
  HttpBrowser,
  startProvider,
  type TestProvider,
} from '../../helpers/oidc-provider.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_ATTACK_CLIENT_SECRET: CLIENT_SECRET, OIDC_ATTACK_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let staff: TestProvider;
let partners: TestProvider;
let gw: TestGateway;
let app: http.Server;

/** A route signing in at `issuer`, under `path`, with the default cookie name. */
function route(name: string, path: string, issuer: string): string {
  const under = path === '/' ? '' : path;
  return `  - name: ${name}
    match: { path: ${path} }
    upstream: app
    auth:
      identity_header: X-User
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_ATTACK_CLIENT_SECRET
        redirect_path: ${under}/oauth2/callback
        logout_path: ${under}/oauth2/sign_out
        cookie: { secret_env: OIDC_ATTACK_COOKIE_SECRET }
`;
}

before(async () => {
  app = http.createServer((req, res) => res.end(`hello ${req.headers['x-user']}`));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  staff = await startProvider();
  partners = await startProvider();
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  gw = await startTestGateway(
    `routes:
${route('partners', '/partners', partners.issuer)}${route('staff', '/', staff.issuer)}upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  );
  await staff.register(gw.url);
  await partners.register(gw.url);
});

after(() => closeAll(gw, staff, partners, app));

/** The session cookies of a browser signed in at the staff provider as `user`, as a Cookie field. */
async function signedInAtStaff(user: string): Promise<string> {
  const browser = new HttpBrowser();
  const page = await browser.signIn(await browser.go(`${gw.url}/`), user);
  assert.equal(page.text, `hello ${user}`);
  return browser.cookiesStarting('127.0.0.1', '_candor_session').join('; ');
}

test('a session of another provider is refused, and its logout there never hands that provider’s ID token to this one', async () => {
  const cookie = await signedInAtStaff('alice');
  const mine = await request(gw.url, { path: '/', headers: { accept: 'text/html', cookie } });
  assert.equal(mine.text, 'hello alice');
  // The partners' provider heard from: its end_session_endpoint is known.
  const other = await request(gw.url, { path: '/partners/x', headers: { accept: 'text/html', cookie } });
  assert.equal(other.status, 302);
  assert.ok(String(other.headers.location).startsWith(`${partners.issuer}/auth?`));
  const out = await request(gw.url, {
    path: '/partners/oauth2/sign_out',
    headers: { accept: 'text/html', cookie, 'sec-fetch-site': 'same-origin' },
  });
  assert.equal(out.status, 302);
  const location = new URL(String(out.headers.location));
  assert.equal(`${location.origin}${location.pathname}`, `${partners.issuer}/session/end`);
  assert.equal(location.searchParams.get('client_id'), CLIENT_ID);
  assert.equal(
    location.searchParams.get('id_token_hint'),
    null,
    'the staff provider’s ID token, sent to the partners’',
  );
  // The cookie is cleared all the same: the browser asked to sign out.
  assert.ok((out.headers['set-cookie'] ?? []).some((c) => /^_candor_session=; Max-Age=0/.test(c)));
  // At its own route's logout, the hint is its own provider's ID token, as before.
  const own = await request(gw.url, {
    path: '/oauth2/sign_out',
    headers: { accept: 'text/html', cookie, 'sec-fetch-site': 'same-origin' },
  });
  const hint = new URL(String(own.headers.location)).searchParams.get('id_token_hint') ?? '';
  const claims = JSON.parse(Buffer.from(hint.split('.')[1] ?? '', 'base64url').toString()) as {
    iss?: string;
  };
  assert.equal(claims.iss, staff.issuer);
});
