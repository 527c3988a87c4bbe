/**
 * A route's cache and its access rules (issue 34): a stored answer's Vary is compared on the
 * request as the upstream got it, with the fields a JWT's claims or a forward-auth service
 * wrote on it, never on the client's own copies (which the gateway removed). An upstream that
 * answers per user with `Vary: X-User-Id` must not have one user's answer served to another,
 * who sent no X-User-Id, or a forged one. A request that carried Authorization stays an
 * authenticated one to the shared cache (RFC 9111 §3.5), though the field never went upstream.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startAuthService } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** Answers each user their own account, cacheable per user: `?public` adds `public` (for requests with credentials). */
const app = await keep(
  listenOnLoopback((req, res) => {
    const pub = req.url?.includes('public') ? 'public, ' : '';
    res.writeHead(200, {
      'cache-control': `${pub}max-age=60`,
      vary: 'X-User-Id',
      'content-type': 'text/plain',
    });
    res.end(`account of ${req.headers['x-user-id']}`);
  }),
);

/** Session `a` is alice, `b` is bob; anything else is refused. */
const service = await keep(
  startAuthService((req, res) => {
    const session = /session=(\w+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    const user = session === 'a' ? 'alice' : session === 'b' ? 'bob' : undefined;
    res.writeHead(user === undefined ? 401 : 200, user === undefined ? {} : { 'x-user-id': user });
    res.end();
  }),
);

const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
const keysFile = join(tempDir('candor-cache-jwt-'), 'jwks.json');
writeFileSync(keysFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
const tokenOf = (sub: string) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setExpirationTime('5m')
    .sign(privateKey);

const gw = await keep(
  startTestGateway(`name: edge-1
routes:
  - name: forward
    match: { path: /forward }
    upstream: app
    cache: {}
    auth:
      forward: { url: ${service.url}, send_headers: [cookie], copy_headers: [x-user-id] }
  - name: jwt
    match: { path: /jwt }
    upstream: app
    cache: {}
    auth:
      jwt: { keys_file: ${keysFile}, algorithms: [ES256], claims_to_headers: { sub: X-User-Id } }
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`),
);

async function get(path: string, headers: Record<string, string>) {
  const res = await request(gw.url, { path, headers });
  return { status: res.status, body: res.body.toString(), cacheStatus: String(res.headers['cache-status']) };
}

test("forward auth's copied field is what Vary compares: bob, with no X-User-Id or alice's forged, never gets alice's answer", async () => {
  // A request forward auth let in is an authenticated one (RFC 9111 §3.5): stored only as `public`
  // allows (signed-in-requests.test.ts), and then per user, as its Vary says.
  const alice = await get('/forward/account?public', { cookie: 'session=a' });
  assert.equal(alice.body, 'account of alice');
  assert.equal(
    (await get('/forward/account?public', { cookie: 'session=a' })).cacheStatus,
    'edge-1; hit; ttl=60',
  );

  const bob = await get('/forward/account?public', { cookie: 'session=b' });
  assert.equal(bob.status, 200);
  assert.equal(bob.body, 'account of bob');
  const forged = await get('/forward/account?public', { cookie: 'session=b', 'x-user-id': 'alice' });
  assert.equal(forged.body, 'account of bob');
  assert.match(forged.cacheStatus, /^edge-1; hit/, "bob's own answer, stored for him");
});

test("a JWT's claim is what Vary compares; a request with a bearer token stores only what the answer says is public", async () => {
  const alice = `Bearer ${await tokenOf('alice')}`;
  const bob = `Bearer ${await tokenOf('bob')}`;
  // Without `public`, an answer to a request with Authorization is not stored (RFC 9111 §3.5).
  assert.equal((await get('/jwt/private', { authorization: alice })).body, 'account of alice');
  assert.doesNotMatch((await get('/jwt/private', { authorization: alice })).cacheStatus, /hit/);

  assert.equal((await get('/jwt/public', { authorization: alice })).body, 'account of alice');
  assert.match((await get('/jwt/public', { authorization: alice })).cacheStatus, /^edge-1; hit/);
  const other = await get('/jwt/public', { authorization: bob });
  assert.equal(other.body, 'account of bob');
  assert.doesNotMatch(other.cacheStatus, /hit/);
  const forged = await get('/jwt/public', { authorization: bob, 'x-user-id': 'alice' });
  assert.equal(forged.body, 'account of bob');
});
