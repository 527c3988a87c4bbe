/**
 * A JWT without `exp` is good for ever once it leaks (RFC 8725 §3.10): a JWT route refuses it
 * unless `require_exp: false` says its issuer never sets one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { fileIssuer } from '../../helpers/jwt-issuer.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const stage = (echo: string, keys: string) => `name: edge-1
routes:
  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt:
        keys_file: ${keys}
        algorithms: [ES256]
        claims_to_headers: { sub: X-User-Id }
upstreams:
  app:
    targets:
      - url: ${echo}
`;

test('a token without exp is refused by default: 401 invalid_token, nothing upstream', async () => {
  const { file, sign } = await fileIssuer();
  const echo = await startEcho();
  const gw = await startTestGateway(stage(echo.url, file));
  try {
    const res = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${await sign('alice', false)}`, 'x-request-id': 'no-exp' },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
    // Why, not only jose's code of any claim refused: an operator hit by the default can tell.
    assert.equal(
      (await gw.logFor('no-exp')).auth,
      'denied: jwt ERR_JWT_CLAIM_VALIDATION_FAILED (no exp claim: require_exp)',
    );
    assert.equal(echo.received.length, 0);
    // One with exp passes.
    const good = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${await sign('bob')}` },
    });
    assert.equal(good.status, 200);
    assert.equal(echo.received.length, 1);
    assert.equal(echo.received[0].headers['x-user-id'], 'bob');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('require_exp: false lets a token without exp in', async () => {
  const { file, sign } = await fileIssuer();
  const echo = await startEcho();
  const gw = await startTestGateway(
    stage(echo.url, file).replace('algorithms: [ES256]', 'algorithms: [ES256]\n        require_exp: false'),
  );
  try {
    const res = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${await sign('alice', false)}` },
    });
    assert.equal(res.status, 200);
    assert.equal(echo.received.length, 1);
    assert.equal(echo.received[0].headers['x-user-id'], 'alice');
  } finally {
    await gw.close();
    await echo.close();
  }
});
