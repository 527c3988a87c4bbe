/**
 * The OpenID provider's row in `GET /status` (`auth_hops`, as the status page shows it) counts
 * every failure of the hop that reached a user, whichever of its endpoints failed: its token
 * endpoint answering 500 or garbage at a sign-in's return, or refusing a renewal for the
 * gateway's client, is the provider failing as its discovery document or keys failing is, and
 * the row says so (`failed`, `last_failure`), not `failed: 0` beside users' 502s and 503s.
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
import type { TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_ROW_CLIENT_SECRET: CLIENT_SECRET, OIDC_ROW_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (_req, res) => res.end('app'),
    (issuer, appUrl) => `routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_ROW_CLIENT_SECRET
        scopes: [offline_access]
        cookie: { secret_env: OIDC_ROW_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

/** The provider's row of the gateway's status. */
function row() {
  const hops = gw.gateway.status().auth_hops;
  const name = `auth:${new URL(provider.issuer).host}`;
  assert.ok(hops[name], `no row ${name} in ${JSON.stringify(Object.keys(hops))}`);
  return hops[name];
}

for (const [mode, status, type] of [
  ['error', 503, 'destination_unavailable'],
  ['garbage', 502, 'http_protocol_error'],
  ['client-refused', 502, 'http_protocol_error'],
] as const)
  test(`the token endpoint ${mode} at a sign-in's return is counted on the provider's row (${status} ${type})`, async () => {
    const browser = new HttpBrowser();
    const login = await browser.go(`${gw.url}/page`);
    assert.equal(login.status, 200);
    const failedBefore = row().counts.failed;
    provider.mode = mode;
    provider.modeAt = '/token';
    try {
      const back = await browser.signIn(login, 'alice');
      assert.equal(back.status, status, back.text.slice(0, 300));
      assert.match(
        back.headers['proxy-status'] as string,
        new RegExp(`error=${type}; details="the token endpoint: `),
      );
    } finally {
      provider.mode = 'ok';
      provider.modeAt = undefined;
    }
    const after = row();
    assert.equal(after.counts.failed, failedBefore + 1, JSON.stringify(after));
    assert.equal(after.last_failure?.type, type);
    assert.match(String(after.last_failure?.details), /^the token endpoint: /);
  });

test('a renewal the token endpoint fails is counted on the provider’s row, the session still good going on', async () => {
  const browser = new HttpBrowser();
  const page = await browser.signIn(await browser.go(`${gw.url}/`), 'bob');
  assert.equal(page.text, 'app');
  const seal = new CookieSeal(COOKIE_SECRET, 'session');
  const session = seal.open(browser.cookie('127.0.0.1', '_candor_session') as string) as Record<
    string,
    unknown
  >;
  assert.equal(typeof session.r, 'string');
  const ending = await seal.seal({ ...session, a: Date.now() - 3600_000, e: Date.now() + 30_000 });
  const failedBefore = row().counts.failed;
  provider.mode = 'error';
  provider.modeAt = '/token';
  try {
    const res = await request(gw.url, { path: '/renew', headers: { cookie: `_candor_session=${ending}` } });
    assert.equal(res.status, 200);
  } finally {
    provider.mode = 'ok';
    provider.modeAt = undefined;
  }
  const after = row();
  assert.equal(after.counts.failed, failedBefore + 1, JSON.stringify(after));
  assert.equal(after.last_failure?.type, 'destination_unavailable');
  assert.match(String(after.last_failure?.details), /^the token endpoint: /);
});

// Last: it leaves the provider's circuit open. The provider stopped, each sign-in's start asks
// for its discovery document again (it was last heard from over a second before) and is refused:
// five refusals in a row open the circuit, with no success between them however slow the machine.
test('the provider’s row shows its own circuit: closed, then open after five failures in a row, until when', async () => {
  assert.deepEqual(row().circuit, { state: 'closed', open_until: null });
  await provider.stop();
  const deadline = Date.now() + 20_000;
  while (row().circuit?.state !== 'open' && Date.now() < deadline) {
    // A browser's first ask (followed no further: the provider's port is closed).
    await request(gw.url, { path: '/page', headers: { accept: 'text/html' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const opened = row();
  const circuit = opened.circuit;
  assert.equal(circuit?.state, 'open', JSON.stringify(circuit));
  assert.ok(Date.parse(String(circuit?.open_until)) > Date.now(), JSON.stringify(circuit));
  // Its last failure is the provider's own (the port closed), and stays so while the open circuit
  // refuses sign-ins: each refusal reached a user (counted), but hides no root cause, as a route
  // upstream's targets keep theirs while its circuit is open.
  assert.doesNotMatch(String(opened.last_failure?.details), /circuit is open/, JSON.stringify(opened));
  for (let i = 0; i < 2; i++) {
    const refused = await request(gw.url, { path: '/page', headers: { accept: 'text/html' } });
    assert.equal(refused.status, 503);
    assert.match(refused.headers['proxy-status'] as string, /its circuit is open after 5 failures in a row/);
  }
  const after = row();
  assert.equal(after.counts.failed, opened.counts.failed + 2, JSON.stringify(after));
  assert.deepEqual(after.last_failure, opened.last_failure);
});
