/**
 * The provider's own error in its answer at the redirect path (RFC 6749 §4.1.2.1): `server_error`
 * and `temporarily_unavailable` are its 500 and 503 said through the browser (a redirect cannot
 * carry a status), the provider failing, never a 401; `access_denied` is the user's refusal.
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

const ENV = { OIDC_ERR_CLIENT_SECRET: CLIENT_SECRET, OIDC_ERR_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (_req, res) => res.writeHead(200).end('app'),
    (issuer, appUrl) => `routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_ERR_CLIENT_SECRET
        cookie: { secret_env: OIDC_ERR_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

/** The provider's answer with `error` to a sign-in begun by a browser: the gateway's answer to it. */
async function answeredWith(error: string): Promise<Awaited<ReturnType<typeof request>>> {
  const browser = new HttpBrowser();
  const first = await browser.go(`${gw.url}/page`, () => true);
  assert.equal(first.status, 302);
  const state = new URL(first.headers.location as string).searchParams.get('state') as string;
  const cookies = browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').join('; ');
  const query = new URLSearchParams({ error, state, iss: provider.issuer });
  return request(gw.url, {
    path: `/oauth2/callback?${query}`,
    headers: { accept: 'application/json', cookie: cookies },
  });
}

for (const error of ['server_error', 'temporarily_unavailable'])
  test(`the provider's ${error} at the redirect path is its outage: 503, never a 401`, async () => {
    const res = await answeredWith(error);
    assert.equal(res.status, 503, res.text);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(res.headers['retry-after'], '1');
    assert.match(
      res.headers['proxy-status'] as string,
      /^candor; error=destination_unavailable; details="[^"]*\b(server_error|temporarily_unavailable)\b[^"]*"; next-hop="auth:oidc"$/,
    );
    assert.equal(res.headers['cache-control'], 'no-store');
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.auth, 'failed: destination_unavailable');
    assert.equal(line.status, 503);
  });

test("the user's access_denied at the provider stays the sign-in's refusal (401)", async () => {
  const res = await answeredWith('access_denied');
  assert.equal(res.status, 401, res.text);
  assert.match(res.headers['proxy-status'] as string, /error=http_request_denied/);
});
