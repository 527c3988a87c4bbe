/**
 * A stale answer's background refresh (stale-while-revalidate) is the gateway's own request: the
 * client whose request found the answer stale is not charged a token of its rate limit for it,
 * and the refresh is not refused in its name. Real sockets: a node:http origin whose first
 * answer is stale at once (Age past max-age) and whose refreshed one is fresh.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test("a background refresh takes no token of the client's rate limit: its burst of 3 gives it 3 answers, and the refresh reaches the upstream", async () => {
  const seen: string[] = [];
  const origin = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    // The first answer is stale already (within stale-while-revalidate); the refresh's is fresh.
    if (seen.length === 1)
      res.writeHead(200, { 'cache-control': 'max-age=1, stale-while-revalidate=600', age: '5' });
    else res.writeHead(200, { 'cache-control': 'max-age=600' });
    res.end(`v${seen.length}`);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  // One token every 1000 s: the burst is all the test's client has.
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
    rate_limit: { rate: 0.001, burst: 3 }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(origin.address() as AddressInfo).port}
`);
  try {
    const first = await request(gw.url, { path: '/pages/a' });
    assert.equal(first.status, 200);
    assert.equal(first.headers['cache-status'], 'edge-1; fwd=uri-miss');

    const stale = await request(gw.url, { path: '/pages/a', headers: { 'x-request-id': 'stale-one' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.text, 'v1');
    assert.match(String(stale.headers['cache-status']), /^edge-1; hit; fwd=stale; ttl=-\d+$/);
    await waitUntil('the refresh reached the upstream', () => seen.length === 2);
    await waitUntil('the refresh logged', () =>
      gw.logs.some((l) => l.msg === 'request' && l.cache === 'fwd=stale'),
    );
    const refresh = gw.logs.find((l) => l.msg === 'request' && l.cache === 'fwd=stale');
    assert.equal(refresh?.status, 200);
    assert.equal(refresh?.error, undefined);

    const third = await request(gw.url, { path: '/pages/a' });
    assert.equal(third.status, 200, 'the third request of a burst of 3');
    assert.equal(third.text, 'v2');
    assert.match(String(third.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);

    const fourth = await request(gw.url, { path: '/pages/a' });
    assert.equal(fourth.status, 429, 'the fourth is past the burst');
    assert.deepEqual(seen, ['GET /pages/a', 'GET /pages/a']);
  } finally {
    await gw.close();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  }
});
