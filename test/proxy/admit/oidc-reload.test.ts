/**
 * A reload keeps the OpenID provider's hop (its discovery document, keys and the sign-in states
 * already answered) whatever of the route's `auth.oidc` settings it changes: the states record is
 * what refuses a replayed callback, and a reload that forgot it would open a replay window.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
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

const ENV = { OIDC_RELOAD_CLIENT_SECRET: CLIENT_SECRET, OIDC_RELOAD_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;

const routes = (issuer: string, appUrl: string, timeout: string) => `routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_RELOAD_CLIENT_SECRET
        cookie: { secret_env: OIDC_RELOAD_COOKIE_SECRET }
        timeout: ${timeout}
upstreams:
  app:
    targets:
      - url: ${appUrl}
`;
let appUrl = '';

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (_req, res) => res.writeHead(200).end('app'),
    (issuer, url) => {
      appUrl = url;
      return routes(issuer, url, '2s');
    },
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

test('a callback answered before a reload that changes auth.oidc.timeout is refused as a replay after it, the provider not asked again', async () => {
  const browser = new HttpBrowser();
  const login = await browser.go(`${gw.url}/`);
  // The flow cookie the provider's answer comes back with (cleared once it is answered).
  const [flow] = browser.cookiesStarting('127.0.0.1', '_candor_session_flow_');
  const back = await browser.signIn(login, 'alice');
  assert.equal(back.text, 'app');
  const callback = gw.logs
    .filter((l) => l.msg === 'request' && String(l.path).startsWith('/oauth2/callback'))
    .at(-1);
  assert.ok(callback);
  const discoveries = provider.asked.get('/.well-known/openid-configuration');
  const exchanges = provider.asked.get('/token');

  const text = `listen:\n  - address: 127.0.0.1:0\n${routes(provider.issuer, appUrl, '1s')}`;
  await gw.gateway.reload(parseConfig(text, '<reload>', ENV));

  const replay = await request(gw.url, {
    path: String(callback.path),
    headers: { accept: 'text/html', cookie: flow },
  });
  assert.equal(replay.status, 400, replay.text);
  assert.match(replay.text, /used already/);
  assert.equal(replay.headers['set-cookie'], undefined);
  assert.equal(provider.asked.get('/token'), exchanges, 'the code not sent to the provider again');
  assert.equal(
    provider.asked.get('/.well-known/openid-configuration'),
    discoveries,
    'the discovery document kept',
  );
});

test('the kept hop takes the reload’s timeout: a token endpoint slower than it is the hop’s 504, naming it', async () => {
  provider.mode = 'hang';
  provider.modeAt = '/token';
  try {
    const browser = new HttpBrowser();
    const back = await browser.signIn(await browser.go(`${gw.url}/`), 'bob');
    assert.equal(back.status, 504, back.text);
    assert.match(
      String(back.headers['proxy-status']),
      /^candor; error=http_response_timeout; details="the token endpoint: [^"]*within 1 s"; next-hop="auth:oidc"$/,
    );
  } finally {
    provider.mode = 'ok';
    provider.modeAt = undefined;
  }
});
