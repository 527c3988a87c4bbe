/**
 * A JWKS endpoint that answers 429 (the identity provider throttles the gateway's fetches, as
 * hosted ones do past their rate) is unavailable for now: with no keys to verify with, the
 * hop's 503 destination_unavailable with the endpoint's Retry-After, as its 503 is. It was a 502
 * http_protocol_error, whose body told clients the endpoint had answered something that is not
 * HTTP and that retrying would not help.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A well-formed RS256 token whose key set must be fetched. */
const TOKEN = [
  Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url'),
  Buffer.from('{"sub":"x","exp":4102444800}').toString('base64url'),
  'c2ln',
].join('.');

test('a JWKS endpoint that answers 429 is the hop’s 503 with its Retry-After, never a 502 or a 401', async () => {
  const jwks = http.createServer((_req, res) => res.writeHead(429, { 'retry-after': '20' }).end('slow down'));
  const port = await listenLoopback(jwks);
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /orders }
    upstream: app
    auth:
      jwt: { jwks_url: "http://127.0.0.1:${port}/jwks.json" }
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
  try {
    const res = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/json', 'x-request-id': 'j-429' },
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '20');
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=destination_unavailable; details="the JWKS endpoint: it answered 429"; next-hop="auth:jwks"',
    );
    assert.equal(JSON.parse(res.text).retryable, true);
    assert.equal((await gw.logFor('j-429')).auth, 'failed: destination_unavailable');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
    await new Promise((resolve) => jwks.close(resolve));
  }
});
