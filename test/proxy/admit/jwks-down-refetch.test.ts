/**
 * A JWKS endpoint that is down before the gateway ever had its keys: each request is the hop's
 * failure, but the endpoint is not asked once per request (a gateway started during an identity
 * provider's outage turned every client request into a fetch, at the clients' full rate). A
 * failed fetch stands for the requests of the next second (or `jwks_min_refresh`, when shorter),
 * then the endpoint is asked again, so the keys are had within a second of its return.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('with no keys yet, a JWKS endpoint that answers 503 is asked once for a run of requests, each the hop’s 503; asked again a second later', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
  let up = false;
  let fetches = 0;
  const server = http.createServer((_req, res) => {
    fetches++;
    if (!up) return res.writeHead(503).end('down');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  const port = await listenLoopback(server);
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /orders }
    upstream: app
    auth:
      jwt: { jwks_url: "http://127.0.0.1:${port}/jwks.json", algorithms: [RS256] }
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
  const token = await new SignJWT({ sub: 'u1' })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setExpirationTime('5m')
    .sign(privateKey);
  const ask = (id: string) =>
    request(gw.url, { path: '/orders', headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });
  try {
    for (let i = 0; i < 5; i++) {
      const res = await ask(`down-${i}`);
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(
        res.headers['proxy-status'],
        'edge-1; error=destination_unavailable; details="the JWKS endpoint: it answered 503"; next-hop="auth:jwks"',
      );
      assert.equal((await gw.logFor(`down-${i}`)).auth, 'failed: destination_unavailable');
    }
    assert.equal(fetches, 1, 'one fetch for the run of requests');
    assert.equal(echo.received.length, 0);
    up = true;
    await sleep(1100);
    assert.equal((await ask('up-1')).status, 200);
    assert.equal(fetches, 2);
    assert.equal(echo.received.length, 1);
  } finally {
    await gw.close();
    await echo.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
