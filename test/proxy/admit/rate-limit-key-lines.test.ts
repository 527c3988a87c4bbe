/**
 * A rate limit keyed by a header (`key: header:NAME`) against a client that sends that field on
 * more than one line. The upstream reads one of them (Go's Header.Get and nginx's $http_NAME the
 * first, others the last, node:http all joined): a bucket keyed by the lines joined was a fresh
 * one per made-up second line, while the upstream still read the spent key. Found by the
 * differential against nginx and HAProxy (docs/hostile-peers.md, "Rate limits against nginx and HAProxy").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

function config(url: string): string {
  return `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    rate_limit: { rate: 0.001, burst: 2, key: "header:X-Api-Key" }
upstreams:
  app:
    targets:
      - url: ${url}
`;
}

function twoLines(first: string, second: string, secondName = 'x-api-key'): string {
  return `GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: ${first}\r\n${secondName}: ${second}\r\nConnection: close\r\n\r\n`;
}

test('key header:X-Api-Key sent on two lines is refused 400, never a fresh bucket for a spent key', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url));
  try {
    for (let i = 0; i < 2; i++)
      assert.equal((await request(gw.url, { headers: { 'x-api-key': 'k1' } })).status, 200);
    assert.equal((await request(gw.url, { headers: { 'x-api-key': 'k1' } })).status, 429);
    // A CGI-style app (PHP, WSGI, Rack) reads X_Api_Key as X-Api-Key: the same field on two lines.
    for (const [first, second, secondName] of [
      ['k1', 'fresh-1', 'x-api-key'],
      ['fresh-2', 'k1', 'X-API-KEY'],
      ['k1', 'k1', 'x-api-key'],
      ['fresh-3', 'k1', 'X_Api_Key'],
    ]) {
      const answer = await rawRequest(gw.port, twoLines(first, second, secondName));
      assert.equal(answer.status, 400, answer.raw);
      assert.match(
        answer.raw,
        /\r\nproxy-status: edge-1; error=http_request_error; details="the rate limit's key field x-api-key came on 2 lines: which one the upstream reads is its own choice"/i,
      );
    }
    assert.equal(echo.received.length, 2, 'only the two admitted requests reached the upstream');
    // One line holding a comma is one value, its own bucket, as before.
    assert.equal((await request(gw.url, { headers: { 'x-api-key': 'k1, k2' } })).status, 200);
    assert.equal(echo.received.length, 3);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test("key header:X-Api-Key sent only as X_Api_Key, which a CGI-style app reads as X-Api-Key, draws from that value's bucket", async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url));
  try {
    for (let i = 0; i < 2; i++)
      assert.equal((await request(gw.url, { headers: { 'x-api-key': 'k1' } })).status, 200);
    const spelled = `GET / HTTP/1.1\r\nHost: a\r\nX_Api_Key: k1\r\nConnection: close\r\n\r\n`;
    const answer = await rawRequest(gw.port, spelled);
    assert.equal(answer.status, 429, answer.raw);
    assert.match(answer.raw, /\r\nretry-after: \d+\r\n/i);
    assert.match(answer.raw, /for this x-api-key value"/);
    assert.equal(echo.received.length, 2, 'the spent key reached the upstream no third time');
    // Another value in that spelling is its own bucket, not the client address's.
    assert.equal((await rawRequest(gw.port, spelled.replace('k1', 'k2'))).status, 200);
    assert.equal((await request(gw.url)).status, 200, "the client address's bucket is untouched");
  } finally {
    await gw.close();
    await echo.close();
  }
});
