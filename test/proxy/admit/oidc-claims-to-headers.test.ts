/**
 * Issue 59, item 4: "claims to fields as JWT does today", for a user signed in with OpenID
 * Connect: `auth.oidc.claims_to_headers` tells the app the ID token's claims (a text claim as it
 * is, a list joined with `, `), as `auth.jwt.claims_to_headers` does a token's; the client's own
 * copy of each field never passes, in any spelling, signed in or not; a claim the ID token lacks
 * sends no field. Through a real provider (oidc-provider) and a real gateway.
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

const ENV = { OIDC_CLAIMS_CLIENT_SECRET: CLIENT_SECRET, OIDC_CLAIMS_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const told: Record<string, string[]> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i].toLowerCase();
        if (name.startsWith('x-user') || name.startsWith('x_user'))
          told[name] = [...(told[name] ?? []), req.rawHeaders[i + 1]];
      }
      res.end(JSON.stringify(told));
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
        client_secret_env: OIDC_CLAIMS_CLIENT_SECRET
        scopes: [email, groups]
        cookie: { secret_env: OIDC_CLAIMS_COOKIE_SECRET }
        claims_to_headers: { email: X-User-Email, groups: X-User-Groups, locale: X-User-Locale }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

test('oidc claims_to_headers: the ID token’s claims told upstream, the client’s own copies dropped in every spelling', async () => {
  const browser = new HttpBrowser();
  const back = await browser.signIn(await browser.go(`${gw.url}/start`), 'alice');
  assert.equal(back.status, 200, back.text.slice(0, 300));
  assert.deepEqual(JSON.parse(back.text), {
    'x-user': ['alice'],
    'x-user-email': ['alice@example.com'],
    'x-user-groups': ['staff'],
  });
  const cookies = browser.cookiesStarting('127.0.0.1', '_candor_session').join('; ');
  const forged = await request(gw.url, {
    path: '/page',
    headers: {
      accept: 'text/html',
      cookie: cookies,
      'X-User-Email': 'root@example.com',
      X_User_Groups: 'admins',
      'X-User-Locale': 'xx',
    },
  });
  assert.equal(forged.status, 200, forged.text.slice(0, 300));
  assert.deepEqual(JSON.parse(forged.text), {
    'x-user': ['alice'],
    'x-user-email': ['alice@example.com'],
    'x-user-groups': ['staff'],
  });
  // Not signed in (a program's 401): nothing reaches the app; a claim the ID token lacks (locale)
  // was never sent above.
  const program = await request(gw.url, { path: '/page', headers: { 'X-User-Email': 'root@example.com' } });
  assert.equal(program.status, 401);
});
