/**
 * Every answer at the redirect path that ends a sign-in clears its flow cookie at once: its state
 * is spent, so the flow can never finish, and the cookie (one of the five a browser keeps under
 * way) would otherwise stay its ten minutes. The signed-in 302, the user `allowed` refuses (403)
 * and the session too large for its cookies (403) each carry the same clearing Set-Cookie.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, test } from 'node:test';
import { closeAll } from '../../helpers/keep.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  COOKIE_SECRET,
  HttpBrowser,
  startSignIn,
  type TestProvider,
  type Visit,
} from '../../helpers/oidc-provider.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_FLOW_CLIENT_SECRET: CLIENT_SECRET, OIDC_FLOW_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;
let reached = 0;

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (_req, res) => {
      reached++;
      res.end('app');
    },
    (issuer, appUrl) => `routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_FLOW_CLIENT_SECRET
        scopes: [groups]
        allowed: { groups: [staff] }
        cookie: { secret_env: OIDC_FLOW_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

/** `user`'s sign-in from a fresh browser: the gateway's answer at the redirect path, and the flow cookie's name. */
async function signInAs(user: string): Promise<{ back: Visit; flow: string; browser: HttpBrowser }> {
  const browser = new HttpBrowser();
  const login = await browser.go(`${gw.url}/page`);
  const flows = browser.cookiesStarting('127.0.0.1', '_candor_session_flow_');
  assert.equal(flows.length, 1, String(flows));
  const flow = flows[0].slice(0, flows[0].indexOf('='));
  const back = await browser.signIn(login, user);
  return { back, flow, browser };
}

/** The Set-Cookie fields of `visit` that clear `name`, exactly as the gateway writes them on plain HTTP. */
function clearing(visit: Visit, name: string): string[] {
  return (visit.headers['set-cookie'] ?? []).filter((c) => c.startsWith(`${name}=`));
}

test('signed in: the flow cookie is cleared on the way back to the page (the control)', async () => {
  const { back, flow, browser } = await signInAs('alice');
  assert.equal(back.status, 200, back.text.slice(0, 300));
  assert.equal(back.text, 'app');
  assert.equal(browser.cookie('127.0.0.1', flow), undefined);
  assert.ok(browser.cookie('127.0.0.1', '_candor_session'));
});

test('a user `allowed` refuses: the 403 clears the spent flow cookie', async () => {
  const before = reached;
  const { back, flow, browser } = await signInAs('mallory');
  assert.equal(back.status, 403, back.text.slice(0, 300));
  assert.deepEqual(clearing(back, flow), [`${flow}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`]);
  assert.equal(browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').length, 0);
  assert.equal(browser.cookie('127.0.0.1', '_candor_session'), undefined);
  const line = await gw.logFor(back.headers['x-request-id'] as string);
  assert.equal(line.auth, 'denied: oidc claim groups not allowed');
  assert.equal(reached, before);
});

test('a session too large for its cookies: the 403 clears the spent flow cookie', async () => {
  provider.pad = 20_000;
  try {
    const before = reached;
    const { back, flow, browser } = await signInAs('alice');
    assert.equal(back.status, 403, back.text.slice(0, 300));
    assert.deepEqual(clearing(back, flow), [`${flow}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`]);
    assert.equal(browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').length, 0);
    assert.equal(browser.cookie('127.0.0.1', '_candor_session'), undefined);
    const line = await gw.logFor(back.headers['x-request-id'] as string);
    assert.equal(line.auth, 'denied: oidc session too large');
    assert.equal(reached, before);
  } finally {
    provider.pad = 0;
  }
});
