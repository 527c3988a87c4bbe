/**
 * Every claim a JWT route refuses is named in the log, with the rule that refused it, as `iss`,
 * `aud`, `typ` and a missing `exp` were (docs/access-control.md: jose's code alone says only
 * that some claim was): a token whose `nbf` is ahead of the gateway's clock (an identity
 * provider's clock ahead of it, the usual cause, which `clock_skew` is for) and a token whose
 * `iat`, `nbf` or `exp` is no number logged a bare ERR_JWT_CLAIM_VALIDATION_FAILED. The client's
 * answer is the same 401 invalid_token as before; nothing reaches the upstream.
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

test('a token refused for its nbf, or for an iat, nbf or exp that is no number: the log names the claim and the rule', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const file = join(tempDir('candor-jwks-'), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /orders }
    upstream: app
    auth: { jwt: { keys_file: ${file}, clock_skew: 30s } }
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT({ sub: 'u', exp: now + 600, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(privateKey);
  try {
    const cases: [Record<string, unknown>, string][] = [
      [{ nbf: now + 600 }, 'ERR_JWT_CLAIM_VALIDATION_FAILED (nbf is ahead of the clock: clock_skew)'],
      [{ nbf: String(now) }, 'ERR_JWT_CLAIM_VALIDATION_FAILED (nbf is not a number)'],
      [{ iat: String(now) }, 'ERR_JWT_CLAIM_VALIDATION_FAILED (iat is not a number)'],
      [{ exp: String(now + 600) }, 'ERR_JWT_CLAIM_VALIDATION_FAILED (exp is not a number)'],
    ];
    for (const [claims, auth] of cases) {
      const id = `claims-${Object.keys(claims)[0]}-${typeof Object.values(claims)[0]}`;
      const res = await request(gw.url, {
        path: '/orders',
        headers: { authorization: `Bearer ${await sign(claims)}`, 'x-request-id': id },
      });
      assert.equal(res.status, 401, id);
      assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', id);
      assert.equal((await gw.logFor(id)).auth, `denied: jwt ${auth}`, id);
    }
    // Within the skew, the nbf is no refusal.
    const early = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${await sign({ nbf: now + 10 })}` },
    });
    assert.equal(early.status, 200);
    assert.equal(echo.received.length, 1);
  } finally {
    await gw.close();
    await echo.close();
  }
});
