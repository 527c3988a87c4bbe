/**
 * A route's cache and users signed in with OpenID Connect (signed-in-requests.test.ts for the
 * other ways in): the session is a cookie the gateway reads, the app is told the user in a field,
 * and a personal page it answers `max-age=60` was stored for alice and given to bob. A signed-in
 * request is an authenticated one (RFC 9111 §3.5): its answer is stored only when it says
 * `public`, `s-maxage` or `must-revalidate`, and then keyed by its Vary.
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

const ENV = { OIDC_CACHE_CLIENT_SECRET: CLIENT_SECRET, OIDC_CACHE_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (req, res) => {
      const query = new URL(req.url ?? '/', 'http://app').searchParams;
      const vary = query.get('vary');
      res.writeHead(200, {
        'cache-control': query.get('cc') ?? 'max-age=60',
        'content-type': 'text/plain',
        ...(vary === null ? {} : { vary }),
      });
      res.end(`page of ${req.headers['x-candor-user'] ?? 'nobody'}`);
    },
    (issuer, appUrl) => `name: edge-1
routes:
  - name: app
    match: { path: / }
    upstream: app
    cache: {}
    auth:
      identity_header: X-Candor-User
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_CACHE_CLIENT_SECRET
        cookie: { secret_env: OIDC_CACHE_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

/** A browser signed in as `user` (its sign-in started at /start, kept apart from the pages compared). */
async function signedIn(user: string): Promise<HttpBrowser> {
  const browser = new HttpBrowser();
  const back = await browser.signIn(await browser.go(`${gw.url}/start?cc=no-store`), user);
  assert.equal(back.text, `page of ${user}`, back.text.slice(0, 300));
  return browser;
}

async function page(browser: HttpBrowser, path: string): Promise<{ body: string; cacheStatus: unknown }> {
  const visit = await browser.go(`${gw.url}${path}`);
  assert.equal(visit.status, 200, visit.text.slice(0, 300));
  return { body: visit.text, cacheStatus: visit.headers['cache-status'] };
}

test("oidc: alice's max-age=60 page is not stored, and bob never gets it", async () => {
  const alice = await signedIn('alice');
  const bob = await signedIn('bob');
  assert.deepEqual(await page(alice, '/page'), {
    body: 'page of alice',
    cacheStatus: 'edge-1; fwd=uri-miss',
  });
  assert.deepEqual(await page(bob, '/page'), { body: 'page of bob', cacheStatus: 'edge-1; fwd=uri-miss' });
  assert.deepEqual(await page(alice, '/page'), {
    body: 'page of alice',
    cacheStatus: 'edge-1; fwd=uri-miss',
  });
});

test('oidc: a page the origin marks public is stored, keyed by the Vary it names', async () => {
  const alice = await signedIn('alice');
  const bob = await signedIn('bob');
  const path = `/shared?cc=${encodeURIComponent('public, max-age=60')}&vary=X-Candor-User`;
  assert.equal((await page(alice, path)).body, 'page of alice');
  const again = await page(alice, path);
  assert.equal(again.body, 'page of alice');
  assert.match(String(again.cacheStatus), /^edge-1; hit; ttl=/);
  assert.deepEqual(await page(bob, path), { body: 'page of bob', cacheStatus: 'edge-1; fwd=vary-miss' });
});
