/**
 * A token without `kid` signed by a key its issuer published after the gateway fetched the set:
 * no key at hand verifies it, as with a kid the set lacks, so the set is fetched again (at most
 * once per `jwks_min_refresh`: a flood of bad tokens is one fetch) and the token tried against
 * it. It was refused as a bad signature until the set's max-age passed. A bad token with the
 * endpoint healthy is still the client's 401; the endpoint failing that fetch is the hop's
 * failure, as for an unknown kid (the key that would make it good could not be had).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

async function kidlessSigner(name: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  // Published with a kid (the set's own business); the tokens name none.
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: name, alg: 'ES256', use: 'sig' };
  const sign = (exp = '5m') =>
    new SignJWT({ sub: `user-of-${name}` })
      .setProtectedHeader({ alg: 'ES256' })
      .setExpirationTime(exp)
      .sign(privateKey);
  return { jwk, sign };
}

/** A JWKS endpoint answering `keys()` with a long max-age, or 503 while `down`; each fetch counted. */
async function startJwks(keys: () => JWK[]) {
  const state = { fetches: 0, down: false };
  const server = http.createServer((_req, res) => {
    state.fetches++;
    if (state.down) return res.writeHead(503).end('down');
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' });
    res.end(JSON.stringify({ keys: keys() }));
  });
  const port = await listenLoopback(server);
  return {
    state,
    url: `http://127.0.0.1:${port}/jwks.json`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

async function gatewayFor(jwksUrl: string, upstream: string, minRefresh: string) {
  return startTestGateway(`name: edge-1
routes:
  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt: { jwks_url: ${jwksUrl}, jwks_min_refresh: ${minRefresh}, algorithms: [ES256] }
upstreams:
  app:
    targets: [{ url: ${upstream} }]
`);
}

test('a kid-less token of a key published since the set was fetched passes: the set is fetched again, once', async (t) => {
  const old = await kidlessSigner('2026-10');
  const next = await kidlessSigner('2026-11');
  let published = [old.jwk];
  const jwks = await startJwks(() => published);
  t.after(() => jwks.close());
  const echo = await startEcho();
  t.after(() => echo.close());
  const gw = await gatewayFor(jwks.url, echo.url, '1ms');
  t.after(() => gw.close());
  const ask = async (token: string, id: string) =>
    request(gw.url, { path: '/orders', headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });

  assert.equal((await ask(await old.sign(), 'old')).status, 200);
  assert.equal(jwks.state.fetches, 1);
  // The issuer publishes its next key and signs with it; the set cached says max-age=3600.
  published = [old.jwk, next.jwk];
  await sleep(5);
  const res = await ask(await next.sign(), 'next');
  assert.equal(res.status, 200, `answered ${res.status} ${res.headers['www-authenticate'] ?? ''}`);
  assert.equal((await gw.logFor('next')).auth, 'allowed');
  assert.equal(jwks.state.fetches, 2);
});

test('kid-less tokens no key verifies, the endpoint healthy: each a 401 naming the bad signature, one fetch per jwks_min_refresh', async (t) => {
  const own = await kidlessSigner('own');
  const stranger = await kidlessSigner('stranger');
  const jwks = await startJwks(() => [own.jwk]);
  t.after(() => jwks.close());
  const echo = await startEcho();
  t.after(() => echo.close());
  // A cooldown long enough that the next request comes within it on a loaded machine too.
  const gw = await gatewayFor(jwks.url, echo.url, '4s');
  t.after(() => gw.close());
  const ask = async (token: string, id: string) =>
    request(gw.url, { path: '/orders', headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });

  assert.equal((await ask(await own.sign(), 'own')).status, 200);
  // Within jwks_min_refresh of that fetch: none.
  const early = await ask(await stranger.sign(), 'early');
  assert.equal(early.status, 401);
  assert.equal(jwks.state.fetches, 1);
  await sleep(4100);
  const forged = await stranger.sign();
  const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => ask(forged, `flood-${id}`)));
  assert.deepEqual(
    answers.map((r) => [r.status, r.headers['www-authenticate']]),
    Array(5).fill([401, 'Bearer error="invalid_token"']),
  );
  for (const id of ['a', 'e'])
    assert.equal((await gw.logFor(`flood-${id}`)).auth, 'denied: jwt ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  assert.equal(jwks.state.fetches, 2, 'one fetch for the flood');
  assert.equal(echo.received.length, 1);
});

test('a kid-less token no kept key verifies, the endpoint failing its fetch: the hop’s 503, an expired one still the client’s 401', async (t) => {
  const own = await kidlessSigner('own');
  const next = await kidlessSigner('next');
  const jwks = await startJwks(() => [own.jwk]);
  t.after(() => jwks.close());
  const echo = await startEcho();
  t.after(() => echo.close());
  const gw = await gatewayFor(jwks.url, echo.url, '1ms');
  t.after(() => gw.close());
  const ask = async (token: string, id: string) =>
    request(gw.url, { path: '/orders', headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });

  assert.equal((await ask(await own.sign(), 'own')).status, 200);
  jwks.state.down = true;
  await sleep(5);
  const down = await ask(await next.sign(), 'down');
  assert.equal(down.status, 503);
  assert.equal(down.headers['www-authenticate'], undefined);
  assert.match(
    String(down.headers['proxy-status']),
    /^edge-1; error=destination_unavailable; details="the JWKS endpoint: it answered 503"; next-hop="auth:jwks"$/,
  );
  const fetches = jwks.state.fetches;
  // No key could make an expired one good: the client's 401 whatever the endpoint does, nothing asked.
  const expired = await ask(await next.sign('-1h'), 'expired');
  assert.equal(expired.status, 401);
  assert.equal(jwks.state.fetches, fetches);
  // A token of the kept key still passes.
  assert.equal((await ask(await own.sign(), 'kept')).status, 200);
});
