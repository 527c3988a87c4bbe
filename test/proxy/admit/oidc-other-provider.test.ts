/**
 * Routes signing in through different providers (or different clients of one), their cookies
 * sealed with one secret (one variable for the gateway, as most set it): a session is its own
 * route's, made by its issuer for its client (OpenID Connect Core §3.1.3.7: the ID token's `iss`
 * and `aud`). One made through another is no session there, whatever the cookie opens to: a
 * user the staff app's provider (or the staff client's assignment) never let in is sent to sign
 * in, never passed on as a user. So with a sign-in's flow: one begun on another route is never
 * completed here (RFC 9700 §4.4's mix-up).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
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

const ENV = { OIDC_TEST_CLIENT_SECRET: CLIENT_SECRET, OIDC_TEST_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let customers: TestProvider;
let staff: TestProvider;
let gw: TestGateway;
let app: http.Server;
/** The paths that reached the app, with the user each was told as. */
const seen: string[] = [];

function oidc(issuer: string, clientId: string, prefix: string): string {
  return `      identity_header: X-User
      oidc:
        issuer: ${issuer}
        client_id: ${clientId}
        client_secret_env: OIDC_TEST_CLIENT_SECRET
        redirect_path: ${prefix}/oauth2/callback
        logout_path: ${prefix}/oauth2/sign_out
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
        timeout: 2s`;
}

before(async () => {
  app = http.createServer((req, res) => {
    seen.push(`${req.url} as ${req.headers['x-user']}`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${req.headers['x-user']}`);
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  customers = await startProvider();
  staff = await startProvider();
  gw = await startTestGateway(
    `routes:
  - name: staff
    match: { path: /staff }
    upstream: app
    auth:
${oidc(staff.issuer, CLIENT_ID, '/staff')}
  - name: partners
    match: { path: /partners }
    upstream: app
    auth:
${oidc(customers.issuer, 'partners-portal', '/partners')}
  - name: customers
    match: { path: / }
    upstream: app
    auth:
${oidc(customers.issuer, CLIENT_ID, '')}
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
`,
    ENV,
  );
  await customers.register(gw.url);
  await staff.register(gw.url);
});

after(() => closeAll(gw, customers, staff, app));

test('a session made through another provider, or another client of the same, is no session on a route: sent to its own sign-in, never passed on', async () => {
  const browser = new HttpBrowser();
  const page = await browser.signIn(await browser.go(`${gw.url}/shop`), 'mallory');
  assert.equal(page.text, 'hello mallory');
  const cookies = [...(browser.jar.get('127.0.0.1') ?? [])]
    .filter(([name]) => name.startsWith('_candor_session'))
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
  const before = seen.length;
  for (const [path, issuer, clientId] of [
    ['/staff/reports', staff.issuer, CLIENT_ID],
    ['/partners/orders', customers.issuer, 'partners-portal'],
  ]) {
    const visit = await browser.go(`${gw.url}${path}`, () => true);
    assert.equal(visit.status, 302, `${path}: ${visit.text}`);
    const location = new URL(visit.headers.location as string);
    assert.equal(location.origin + location.pathname, `${issuer}/auth`, path);
    assert.equal(location.searchParams.get('client_id'), clientId);
    const api = await request(gw.url, { path, headers: { accept: 'application/json', cookie: cookies } });
    assert.equal(api.status, 401, path);
  }
  assert.deepEqual(seen.slice(before), [], 'nothing reached the app as mallory');
  // Its own route still takes it.
  assert.equal((await browser.go(`${gw.url}/shop`)).text, 'hello mallory');
});

test("a sign-in begun on another provider's route is not completed at this one's redirect path (a mix-up: its provider's code, the other's flow)", async () => {
  // The victim begins a sign-in on the staff route: its flow cookie, state, nonce and PKCE
  // challenge, which the staff route's provider (here, the one that turns on its users) learns.
  const victim = new HttpBrowser();
  const begun = await victim.go(`${gw.url}/staff/home`, () => true);
  assert.equal(begun.status, 302);
  const asked = new URL(begun.headers.location as string);
  // That provider has the attacker get a code of the customers' provider for the attacker's own
  // account, with the victim's state, nonce and challenge, and sends the victim to redeem it.
  const attacker = new HttpBrowser();
  const atGateway = (next: URL) => next.origin === gw.url;
  const authorize = new URL(`${customers.issuer}/auth`);
  for (const [name, value] of Object.entries({
    client_id: CLIENT_ID,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: `${gw.url}/oauth2/callback`,
    state: asked.searchParams.get('state') ?? '',
    nonce: asked.searchParams.get('nonce') ?? '',
    code_challenge: asked.searchParams.get('code_challenge') ?? '',
    code_challenge_method: 'S256',
  }))
    authorize.searchParams.set(name, value);
  const login = await attacker.go(authorize.href);
  let back = await attacker.submit(login, { login: 'mallory', password: 'any' }, atGateway);
  if (back.text.includes('name="prompt" value="consent"')) back = await attacker.submit(back, {}, atGateway);
  const callback = new URL(back.headers.location as string, back.url);
  assert.equal(callback.pathname, '/oauth2/callback');
  const answer = await victim.go(callback.href, () => true);
  assert.equal(
    answer.status,
    400,
    `the victim is not signed in as the attacker: ${answer.status} ${answer.headers['set-cookie']} ${answer.text}`,
  );
  assert.equal(victim.cookie('127.0.0.1', '_candor_session'), undefined);
});
