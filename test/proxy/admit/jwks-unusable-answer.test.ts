/**
 * A JWKS endpoint that answers in good HTTP something that is no key set (a 404, a body that is
 * not JSON, JSON that is not {"keys": [...]}) is the auth hop's 502 http_protocol_error, its
 * details saying which; its error body no longer says the endpoint sent something that is not
 * HTTP: it spoke HTTP, and its answer was not one the gateway can use.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { pastShortWindow } from '../../helpers/wait.ts';

const token = `${Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url')}.${Buffer.from('{"sub":"x","exp":4102444800}').toString('base64url')}.c2ln`;

test('a JWKS endpoint answering 404, text that is not JSON, or JSON that is no key set: never "not HTTP"', async () => {
  let answer: [number, string] = [404, 'not here'];
  const jwks = http.createServer((_req, res) => {
    res.writeHead(answer[0], { 'content-type': 'application/json' }).end(answer[1]);
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
    const cases: [[number, string], string][] = [
      [[404, 'not here'], 'it answered 404, not a key set'],
      [[200, '<html>'], 'its answer is not JSON'],
      [[200, '{"keys":["k1"]}'], 'its answer is not a key set ({"keys": [...]})'],
    ];
    for (const [given, said] of cases) {
      answer = given;
      // The last answer's failure stands for jwks_min_refresh (1 ms): a warm process's next
      // request came inside it, and was told the last answer's details.
      await pastShortWindow();
      const res = await request(gw.url, {
        path: '/orders',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      });
      assert.equal(res.status, 502);
      const problem = JSON.parse(res.text);
      assert.equal(problem.error, 'http_protocol_error');
      assert.equal(problem.details, `the JWKS endpoint: ${said}`);
      assert.equal(problem.title, "Upstream's answer is not one the gateway can use");
      assert.equal(
        problem.detail,
        `The gateway "edge-1" is working, but the upstream "auth:jwks" failed: the upstream answered in HTTP, but not with an answer the gateway can use (the JWKS endpoint: ${said}).`,
      );
    }
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
    jwks.closeAllConnections();
    await new Promise((resolve) => jwks.close(resolve));
  }
});
