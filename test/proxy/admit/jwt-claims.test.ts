/**
 * A JWT's claims_to_headers sends upstream the claims the token holds, and only those: a claim
 * named as a property every object has (`constructor`, `toString`, `__proto__`) is the token's
 * or nothing, never Object's own read through (it went upstream as an empty field, or `{}`).
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

test('claims_to_headers sends the claims the token holds, never a property every object has', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const file = join(tempDir('candor-jwks-'), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: a
    match: { path: / }
    upstream: app
    auth:
      jwt:
        keys_file: ${file}
        algorithms: [RS256]
        claims_to_headers: { constructor: X-C, toString: X-T, __proto__: X-P, sub: X-Sub }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setExpirationTime('5m')
      .sign(privateKey);
  try {
    const bare = await request(gw.url, {
      path: '/',
      headers: { authorization: `Bearer ${await sign({ sub: 'u' })}` },
    });
    assert.equal(bare.status, 200);
    const seen = echo.received[0].headers;
    assert.equal(seen['x-sub'], 'u');
    assert.deepEqual(
      [seen['x-c'], seen['x-t'], seen['x-p']],
      [undefined, undefined, undefined],
      'claims the token lacks are not sent',
    );
    const held = await request(gw.url, {
      path: '/',
      headers: { authorization: `Bearer ${await sign({ sub: 'u', constructor: 'c', toString: 't' })}` },
    });
    assert.equal(held.status, 200);
    assert.equal(echo.received[1].headers['x-c'], 'c');
    assert.equal(echo.received[1].headers['x-t'], 't');
    // A value with a space at either end is left out: the upstream's parser would trim " admin"
    // into "admin", a value the token never held (the client's own copy is dropped all the same).
    for (const sub of [' admin', 'admin ']) {
      const spaced = await request(gw.url, {
        path: '/',
        headers: { authorization: `Bearer ${await sign({ sub })}`, 'x-sub': 'forged' },
      });
      assert.equal(spaced.status, 200);
      assert.equal(echo.received.at(-1)?.headers['x-sub'], undefined, JSON.stringify(sub));
    }
  } finally {
    await gw.close();
    await echo.close();
  }
});
