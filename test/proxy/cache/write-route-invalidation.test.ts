/**
 * Routes told apart by method are one resource to a client: a cached route for reads beside a
 * route for writes on the same host and path (the complete example's api-v1 and api-v1-writes).
 * An unsafe request the write route's upstream answers under 400 drops the read route's stored
 * answer of its target URI (RFC 9111 §4.4), by the read route's own rewrite of the path, so the
 * client that deleted an item is not given it again. Real sockets: a node:http origin that
 * counts versions.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** An origin whose item changes with each write (answered `writeStatus`), read with max-age=60. */
async function itemOrigin(writeStatus: number) {
  const seen: string[] = [];
  let version = 1;
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (writeStatus < 400) version++;
      res.statusCode = writeStatus;
      return res.end();
    }
    res.setHeader('cache-control', 'max-age=60');
    res.end(`item v${version}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Reads through a cached route rewritten to /api/v1, writes through a route of their own stripping /v1. */
const config = (url: string) => `name: edge-1
routes:
  - name: api-v1
    match: { host: api.example.com, path: /v1 }
    upstream: api
    rewrite: { prefix: /api/v1 }
    cache: {}
  - name: api-v1-writes
    match: { host: api.example.com, path: /v1, methods: [POST, PUT, PATCH, DELETE] }
    upstream: api
    strip_prefix: true
upstreams:
  api:
    targets:
      - url: ${url}
`;

const host = { host: 'api.example.com' };

for (const method of ['DELETE', 'PUT', 'POST', 'PATCH']) {
  test(`a ${method} through the write route drops the read route's stored answer: the next GET goes upstream and gets the new item`, async () => {
    const origin = await itemOrigin(204);
    const gw = await startTestGateway(config(origin.url));
    try {
      const first = await request(gw.url, { path: '/v1/items/1', headers: host });
      assert.equal(first.text, 'item v1');
      assert.equal(first.headers['cache-status'], 'edge-1; fwd=uri-miss');
      assert.match(
        String((await request(gw.url, { path: '/v1/items/1', headers: host })).headers['cache-status']),
        /^edge-1; hit; ttl=\d+$/,
      );

      const write = await request(gw.url, { path: '/v1/items/1', method, headers: host });
      assert.equal(write.status, 204);
      assert.equal(write.headers['cache-status'], undefined, 'the write route has no cache');

      const after = await request(gw.url, { path: '/v1/items/1', headers: host });
      assert.equal(after.text, 'item v2');
      assert.equal(after.headers['cache-status'], 'edge-1; fwd=uri-miss');
      assert.deepEqual(origin.seen, ['GET /api/v1/items/1', `${method} /items/1`, 'GET /api/v1/items/1']);
    } finally {
      await gw.close();
      await origin.close();
    }
  });
}

test('a write the upstream refuses (409) drops nothing: the read route still answers from its store', async () => {
  const origin = await itemOrigin(409);
  const gw = await startTestGateway(config(origin.url));
  try {
    assert.equal((await request(gw.url, { path: '/v1/items/1', headers: host })).text, 'item v1');
    const write = await request(gw.url, { path: '/v1/items/1', method: 'DELETE', headers: host });
    assert.equal(write.status, 409);
    const after = await request(gw.url, { path: '/v1/items/1', headers: host });
    assert.equal(after.text, 'item v1');
    assert.match(String(after.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.deepEqual(origin.seen, ['GET /api/v1/items/1', 'DELETE /items/1']);
  } finally {
    await gw.close();
    await origin.close();
  }
});

test("a write to another item drops only that item's stored answer", async () => {
  const origin = await itemOrigin(204);
  const gw = await startTestGateway(config(origin.url));
  try {
    assert.equal((await request(gw.url, { path: '/v1/items/1', headers: host })).text, 'item v1');
    assert.equal(
      (await request(gw.url, { path: '/v1/items/2', method: 'DELETE', headers: host })).status,
      204,
    );
    const after = await request(gw.url, { path: '/v1/items/1', headers: host });
    assert.equal(after.text, 'item v1');
    assert.match(String(after.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  } finally {
    await gw.close();
    await origin.close();
  }
});
