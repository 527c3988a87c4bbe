/**
 * RFC 9211 §2: "An intermediary SHOULD NOT append a Cache-Status member to responses that it
 * generates locally, even if that intermediary contains a cache, unless the generated response
 * is based upon a stored response". On a cached route the gateway's own error responses (the 502
 * of an upstream down with nothing stored to stand in, a rate limit's 429) carry Proxy-Status and
 * no Cache-Status; a stored answer standing in for the same failure carries both. Before, every
 * answer of the route had one (`fwd=uri-miss` on the 502, `fwd=bypass` on the 429).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

test("a cached route's 502 for an upstream down, nothing stored: Proxy-Status, no Cache-Status", async () => {
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    retries: { attempts: 1 }
    targets:
      - url: http://127.0.0.1:${await freePort()}
`);
  try {
    const res = await request(gw.url, { path: '/pages/a', headers: { 'x-request-id': 'down' } });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_refused; /);
    assert.equal(res.headers['cache-status'], undefined);
    const line = await gw.logFor('down');
    assert.equal(line.error, 'connection_refused');
    assert.equal(line.cache, 'fwd=uri-miss', 'the log still says what the cache did');
  } finally {
    await gw.close();
  }
});

test("a cached route's 429 from its rate limit: no Cache-Status; its stored answers still say theirs", async () => {
  let asked = 0;
  const origin = http.createServer((_req, res) => {
    asked++;
    res.writeHead(200, { 'cache-control': 'max-age=600' });
    res.end('page');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
    rate_limit: { rate: 0.001, burst: 2 }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(origin.address() as AddressInfo).port}
`);
  try {
    const first = await request(gw.url, { path: '/pages/a' });
    assert.equal(first.headers['cache-status'], 'edge-1; fwd=uri-miss');
    const hit = await request(gw.url, { path: '/pages/a' });
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    const limited = await request(gw.url, { path: '/pages/a' });
    assert.equal(limited.status, 429);
    assert.match(String(limited.headers['proxy-status']), /^edge-1; error=/);
    assert.equal(limited.headers['cache-status'], undefined);
    assert.equal(asked, 1);
  } finally {
    await gw.close();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  }
});

test('a stored answer standing in for the failed upstream keeps its Cache-Status: it is based on a stored response', async () => {
  let up = true;
  const origin = http.createServer((req, res) => {
    if (!up) return req.socket.destroy();
    res.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=600' });
    res.end('kept');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    retries: { attempts: 1 }
    targets:
      - url: http://127.0.0.1:${(origin.address() as AddressInfo).port}
`);
  try {
    assert.equal((await request(gw.url, { path: '/pages/a' })).text, 'kept');
    up = false;
    const stale = await request(gw.url, { path: '/pages/a' });
    assert.equal(stale.status, 200);
    assert.equal(stale.text, 'kept');
    assert.match(
      String(stale.headers['cache-status']),
      /^edge-1; hit; fwd=stale; fwd-status=502; ttl=-?\d+; detail="connection_terminated"$/,
    );
  } finally {
    await gw.close();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  }
});
