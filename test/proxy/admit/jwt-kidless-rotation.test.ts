/**
 * A token without `kid` while the key set holds two keys it could be signed with: the key
 * rotation every issuer goes through (the new key published beside the old one, tokens of both
 * alive), met by an issuer that does not name its keys. RFC 7515 §4.1.4 makes `kid` optional;
 * the verifier tries each key that fits (jose's JWKSMultipleMatchingKeys is iterable for this).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const ISSUER = 'https://idp.example.test/';

async function kidlessSigner(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const sign = () =>
    new SignJWT({ sub: `user-of-${kid}` })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(ISSUER)
      .setAudience('orders')
      .setExpirationTime('5m')
      .sign(privateKey);
  return { jwk, sign };
}

test('a token without kid is checked against each key that fits: both keys of a rotation admit their tokens, a stranger’s is still refused', async () => {
  const old = await kidlessSigner('2026-10');
  const next = await kidlessSigner('2026-11');
  const stranger = await kidlessSigner('other');
  let fetches = 0;
  const jwks = http.createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify({ keys: [old.jwk, next.jwk] }));
  });
  const port = await listenLoopback(jwks);
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: http://127.0.0.1:${port}/jwks.json
        issuer: "${ISSUER}"
        audiences: [orders]
        algorithms: [RS256]
        claims_to_headers: { sub: X-User-Id }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    for (const [i, signer] of [old, next].entries()) {
      const res = await request(gw.url, {
        path: '/orders',
        headers: { authorization: `Bearer ${await signer.sign()}`, 'x-request-id': `kidless-${i}` },
      });
      assert.equal(res.status, 200, `the token of key ${signer.jwk.kid}`);
      assert.equal(echo.received.at(-1)?.headers['x-user-id'], `user-of-${signer.jwk.kid}`);
      assert.equal((await gw.logFor(`kidless-${i}`)).auth, 'allowed');
    }
    const refused = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${await stranger.sign()}`, 'x-request-id': 'kidless-stranger' },
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer error="invalid_token"');
    assert.equal(
      (await gw.logFor('kidless-stranger')).auth,
      'denied: jwt ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    );
    assert.equal(echo.received.length, 2);
    assert.equal(
      fetches,
      1,
      'within jwks_min_refresh of the last fetch, a signature no key makes good asks for the keys no more',
    );
  } finally {
    await gw.close();
    await echo.close();
    await new Promise((resolve) => jwks.close(resolve));
  }
});
