/**
 * A JWKS endpoint whose 5xx says the request loops (its Proxy-Status names
 * `proxy_loop_detected`: a proxy on the way to it found its own name in Via) is the auth hop
 * looping, told as a loop as forward auth's is: 502 proxy_loop_detected, no Retry-After (a loop
 * does not clear by retrying), next-hop the hop. Its other 5xx stay the hop's 503.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { pastShortWindow } from '../../helpers/wait.ts';

/** A well-formed RS256 token (good till 2100) whose key the JWKS would have to give. */
const TOKEN = `${Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url')}.${Buffer.from('{"sub":"x","exp":4102444800}').toString('base64url')}.c2ln`;

test('a JWKS endpoint answering that the request loops is the hop’s 502 proxy_loop_detected, without Retry-After; another 5xx stays its 503', async () => {
  let proxyStatus = 'keys-lb; error=proxy_loop_detected; details="own name in Via"';
  const jwks = http.createServer((_req, res) => {
    res.writeHead(502, { 'proxy-status': proxyStatus, 'retry-after': '5' }).end('loop');
  });
  const port = await listenLoopback(jwks);
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt: { jwks_url: "http://127.0.0.1:${port}/jwks.json", jwks_min_refresh: 1ms }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    const ask = (id: string) =>
      request(gw.url, {
        path: '/orders',
        headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/json', 'x-request-id': id },
      });
    const looped = await ask('jwks-loop');
    assert.equal(looped.status, 502);
    assert.equal(looped.headers['retry-after'], undefined);
    assert.equal(looped.headers['cache-control'], 'no-store');
    assert.match(
      String(looped.headers['proxy-status']),
      /^edge-1; error=proxy_loop_detected; details=".*"; next-hop="auth:jwks"$/,
    );
    assert.equal(JSON.parse(looped.text).status, 502);
    assert.equal((await gw.logFor('jwks-loop')).auth, 'failed: proxy_loop_detected');

    proxyStatus = 'keys-lb; error=connection_refused';
    // Past jwks_min_refresh (1 ms), within which the loop's failure stands for every request.
    await pastShortWindow();
    const down = await ask('jwks-down');
    assert.equal(down.status, 503);
    assert.equal(down.headers['retry-after'], '5');
    assert.match(String(down.headers['proxy-status']), /^edge-1; error=destination_unavailable; /);
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
    jwks.closeAllConnections();
    await new Promise((resolve) => jwks.close(resolve));
  }
});
