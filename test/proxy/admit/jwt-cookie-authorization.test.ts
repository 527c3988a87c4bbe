/**
 * `forward_authorization: true` passes on the bearer token the gateway checked. When a JWT
 * route took its token from the cookie, the client's Authorization (another scheme, a bearer
 * spelled so the gateway did not read it) was never checked: it must not reach the upstream
 * beside a verified identity, as if it were the credential the gateway vouched for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { fileIssuer } from '../../helpers/jwt-issuer.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('a token from the cookie leaves the client’s Authorization behind; a bearer token checked goes on', async () => {
  const { file, sign } = await fileIssuer();
  const mine = await sign('mallory');
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      forward_authorization: true
      jwt: { keys_file: ${file}, algorithms: [ES256], cookie: session, claims_to_headers: { sub: X-User } }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const sent = (authorization: string, cookie: string) =>
    rawRequest(
      gw.port,
      `GET /app HTTP/1.1\r\nHost: x\r\n${authorization}Cookie: ${cookie}\r\nConnection: close\r\n\r\n`,
    );
  const upstreamAuthorization = () =>
    echo.received.at(-1)?.rawHeaders.filter(([name]) => name.toLowerCase() === 'authorization');
  try {
    // A bearer after a tab (not the gateway's token: RFC 6750 §2.1 writes one space), and another scheme.
    for (const forged of ['Bearer\tforged.admin.token', 'Basic YWRtaW46eA==']) {
      const res = await sent(`Authorization: ${forged}\r\n`, `session=${mine}`);
      assert.equal(res.status, 200);
      assert.deepEqual(upstreamAuthorization(), []);
      assert.equal(echo.received.at(-1)?.headers['x-user'], 'mallory');
    }
    // The token checked from Authorization goes on, as forward_authorization says.
    const res = await sent(`Authorization: Bearer ${mine}\r\n`, 'theme=dark');
    assert.equal(res.status, 200);
    assert.deepEqual(upstreamAuthorization(), [['Authorization', `Bearer ${mine}`]]);
    assert.equal(echo.received.length, 3);
  } finally {
    await gw.close();
    await echo.close();
  }
});
