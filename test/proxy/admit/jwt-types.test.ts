/**
 * Explicit typing (RFC 8725 §3.11, RFC 9068 §4): a route takes a token whose header `typ` is one
 * of `auth.jwt.types` (by default a plain JWT, none said, or `at+jwt`), compared as media types
 * (case-insensitive, `application/` optional). Another kind of token the issuer signs with the
 * same key, an ID token, a logout token, a DPoP proof, is refused as a bad token.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const ISSUER = 'https://idp.example.test/';

/** A key set on disk and a signer whose tokens carry `typ` (undefined: none) and are otherwise good. */
async function issuer() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const file = join(tempDir('candor-typ-'), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
  const sign = (typ: unknown) =>
    new SignJWT({ sub: 'user-7' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', ...(typ === undefined ? {} : { typ }) } as never)
      .setIssuer(ISSUER)
      .setAudience('orders')
      .setExpirationTime('5m')
      .sign(privateKey);
  return { file, sign };
}

const config = (upstream: string, file: string, types = '') => `name: edge-1
routes:
  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt: { keys_file: ${file}, issuer: "${ISSUER}", audiences: [orders], algorithms: [ES256]${types} }
upstreams:
  app:
    targets:
      - url: ${upstream}
`;

async function statuses(types: string, typs: readonly unknown[]): Promise<number[]> {
  const { file, sign } = await issuer();
  const echo = await startEcho();
  // Closed whatever happens: an open server would keep the test's process alive.
  const gw = await startTestGateway(config(echo.url, file, types)).catch(async (err) => {
    await echo.close();
    throw err;
  });
  try {
    const out: number[] = [];
    for (const [i, typ] of typs.entries()) {
      const res = await request(gw.url, {
        path: '/orders',
        headers: { authorization: `Bearer ${await sign(typ)}`, 'x-request-id': `typ-${i}` },
      });
      out.push(res.status);
      if (res.status === 401) {
        assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
        assert.equal(
          res.headers['proxy-status'],
          'edge-1; error=http_request_denied; details="the bearer token was not accepted"',
        );
        assert.equal(
          (await gw.logFor(`typ-${i}`)).auth,
          'denied: jwt ERR_JWT_CLAIM_VALIDATION_FAILED (typ is none of types)',
        );
      }
    }
    assert.equal(echo.received.length, out.filter((status) => status === 200).length);
    return out;
  } finally {
    await gw.close();
    await echo.close();
  }
}

test('by default a plain JWT (typ JWT or none) and an at+jwt access token pass; a logout token, a DPoP proof or an ID token typed so is refused', async () => {
  const typs = [
    undefined,
    'JWT',
    'jwt',
    'at+jwt',
    'AT+JWT',
    'application/at+jwt',
    'logout+jwt',
    'dpop+jwt',
    'id_token+jwt',
    5,
  ];
  assert.deepEqual(await statuses('', typs), [200, 200, 200, 200, 200, 200, 401, 401, 401, 401]);
});

test('types: [at+jwt] is RFC 9068: only a token typed at+jwt passes, an untyped or plain JWT is refused', async () => {
  const typs = [undefined, 'JWT', 'at+jwt', 'Application/AT+JWT', 'logout+jwt'];
  assert.deepEqual(await statuses(', types: [at+jwt]', typs), [401, 401, 200, 200, 401]);
});
