/**
 * A bearer token too long to be read (past 16 KiB) is a bad token, answered as one (RFC 6750
 * §3.1: `error="invalid_token"`), not a request without one: a client told it sent no token
 * would send the same again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { fileIssuer } from '../../helpers/jwt-issuer.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('a bearer token past 16 KiB is a 401 invalid_token, not "this route needs a bearer token"', async () => {
  const { file, sign } = await fileIssuer();
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      jwt: { keys_file: ${file}, algorithms: [ES256], cookie: session }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    // The cookie's good token does not stand in for the bearer token that was sent.
    const res = await request(gw.url, {
      path: '/app',
      headers: {
        authorization: `bearer ${'a'.repeat(16 * 1024)}`,
        cookie: `session=${await sign('alice')}`,
        'x-request-id': 'long-bearer',
      },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_request_denied; details="the bearer token was not accepted"',
    );
    assert.equal((await gw.logFor('long-bearer')).auth, 'denied: jwt a bearer token over 16384 bytes');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});
