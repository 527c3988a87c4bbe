/**
 * A JWKS endpoint whose answer is not HTTP at all (another service on its port) is the auth hop
 * answering garbage, told by the same type as an upstream would be: 502 http_protocol_error
 * naming the hop, never connection_terminated (the connection did not break: an answer came).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSshBanner } from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('a JWKS endpoint that answers an SSH banner is the hop’s 502 http_protocol_error', async () => {
  const [echo, ssh] = await Promise.all([startEcho(), startSshBanner()]);
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: ${ssh.url}/jwks.json
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
  try {
    const token = [
      Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url'),
      Buffer.from('{"sub":"x"}').toString('base64url'),
      'c2ln',
    ].join('.');
    const res = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'jwks-ssh' },
    });
    assert.equal(res.status, 502);
    assert.match(
      res.headers['proxy-status'] as string,
      new RegExp(
        `^edge-1; error=http_protocol_error; details="the JWKS endpoint: [^"]*"; next-hop="auth:127.0.0.1:${ssh.port}"$`,
      ),
    );
    assert.equal((await gw.logFor('jwks-ssh')).auth, 'failed: http_protocol_error');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await Promise.all([echo.close(), ssh.close()]);
  }
});
