/**
 * The JWKS while it is fetched again (issue 34): a token whose kid the keys lack, arriving while
 * a fetch is under way, waits for that fetch (the issuer rotated its keys: the fetch brings the
 * new one) instead of a 401. A reload that names the URL with another refresh interval keeps the
 * keys it had.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { parseConfig } from '../../../src/core/config/load.ts';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

async function signer(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const bearer = async () =>
    `Bearer ${await new SignJWT({ sub: kid })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setExpirationTime('5m')
      .sign(privateKey)}`;
  return { jwk, bearer };
}

/** A JWKS endpoint that answers each fetch at once, or holds it until `release()`. */
async function startHeldJwks(keys: () => JWK[]) {
  const state = { fetches: 0, hold: false, held: [] as http.ServerResponse[] };
  const answer = (res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify({ keys: keys() }));
  };
  const server = http.createServer((_req, res) => {
    state.fetches++;
    if (state.hold) state.held.push(res);
    else answer(res);
  });
  const port = await listenLoopback(server);
  return {
    state,
    url: `http://127.0.0.1:${port}/jwks.json`,
    release() {
      state.hold = false;
      for (const res of state.held.splice(0)) answer(res);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

function config(upstream: string, jwksUrl: string, minRefresh: string): string {
  return `name: edge-1
routes:
  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt: { jwks_url: ${jwksUrl}, jwks_min_refresh: ${minRefresh}, algorithms: [ES256] }
upstreams:
  app:
    targets: [{ url: ${upstream} }]
`;
}

test('tokens of a rotated kid that arrive while the keys are fetched wait for that fetch: every one passes, one fetch', async () => {
  const first = await signer('k1');
  const rotated = await signer('k2');
  let published = [first.jwk];
  const jwks = await startHeldJwks(() => published);
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, jwks.url, '1s'));
  try {
    assert.equal(
      (await request(gw.url, { path: '/orders', headers: { authorization: await first.bearer() } })).status,
      200,
    );
    // Past jwks_min_refresh, the issuer rotates to k2; its JWKS endpoint is slow to answer.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    published = [first.jwk, rotated.jwk];
    jwks.state.hold = true;
    const token = await rotated.bearer();
    const ask = (id: string) =>
      request(gw.url, { path: '/orders', headers: { authorization: token, 'x-request-id': id } });
    const leading = ask('rotated-1');
    await waitUntil('fetching for the unknown kid', () => jwks.state.held.length === 1);
    const following = [ask('rotated-2'), ask('rotated-3')];
    // The two that come during the fetch are not answered before it (a 401 was): they wait for its keys.
    await new Promise((resolve) => setTimeout(resolve, 300));
    jwks.release();
    const statuses = (await Promise.all([leading, ...following])).map((res) => res.status);
    assert.deepEqual(statuses, [200, 200, 200]);
    assert.equal(jwks.state.fetches, 2, 'one fetch at start, one for the rotated kid');
    assert.equal((await gw.logFor('rotated-3')).auth, 'allowed');
  } finally {
    await gw.close();
    await echo.close();
    await jwks.close();
  }
});

test('a reload that changes jwks_min_refresh keeps the keys fetched from the URL: its endpoint down then costs no 502', async () => {
  const first = await signer('k1');
  const jwks = await startHeldJwks(() => [first.jwk]);
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, jwks.url, '30s'));
  try {
    assert.equal(
      (await request(gw.url, { path: '/orders', headers: { authorization: await first.bearer() } })).status,
      200,
    );
    // The endpoint stops answering; the reload names the same URL with another interval.
    jwks.state.hold = true;
    await gw.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config(echo.url, jwks.url, '1m')}`, '<reload>'),
    );
    const after = await request(gw.url, {
      path: '/orders',
      headers: { authorization: await first.bearer() },
    });
    assert.equal(after.status, 200);
    assert.equal(jwks.state.fetches, 1, 'the keys kept are fresh: not fetched again');
  } finally {
    jwks.release();
    await gw.close();
    await echo.close();
    await jwks.close();
  }
});
