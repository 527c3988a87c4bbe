/**
 * The ID token the token endpoint answers the gateway with, refused by the gateway's checks (here
 * an algorithm the route does not take: the provider signs RS256, the route takes ES256 alone),
 * is the provider's answer the gateway cannot use, the hop's 502: no user brought that token, and
 * a 401 told every user their sign-in was refused while the gateway and provider disagreed.
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
} from '../../helpers/oidc-provider.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_ALG_CLIENT_SECRET: CLIENT_SECRET, OIDC_ALG_COOKIE_SECRET: COOKIE_SECRET };
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
        client_secret_env: OIDC_ALG_CLIENT_SECRET
        cookie: { secret_env: OIDC_ALG_COOKIE_SECRET }
        algorithms: [ES256]
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

test("an ID token the route's algorithms refuse is the hop's 502, not the user's 401", async () => {
  const browser = new HttpBrowser();
  const login = await browser.go(`${gw.url}/page`);
  assert.equal(login.status, 200, login.text.slice(0, 300));
  const back = await browser.signIn(login, 'alice');
  assert.ok(back.url.startsWith(`${gw.url}/oauth2/callback?`), back.url);
  assert.equal(back.status, 502, back.text.slice(0, 500));
  assert.equal(back.headers['www-authenticate'], undefined);
  assert.equal(back.headers['retry-after'], undefined);
  assert.equal(
    back.headers['proxy-status'],
    'candor; error=http_protocol_error; details="the token endpoint: its ID token was not accepted (ERR_JOSE_ALG_NOT_ALLOWED)"; next-hop="auth:oidc"',
  );
  assert.equal(back.headers['cache-control'], 'no-store');
  const line = await gw.logFor(back.headers['x-request-id'] as string);
  assert.equal(line.auth, 'failed: http_protocol_error');
  assert.equal(line.status, 502);
  assert.equal(users.length, 0);
});
