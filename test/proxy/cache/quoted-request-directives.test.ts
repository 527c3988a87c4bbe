/**
 * A client's Cache-Control is read as the answer's is: a quoted argument's commas and spaces are
 * its own (RFC 9110 §5.6.4), so a directive named inside another's quotes is none. The store's own
 * readings of a request (only-if-cached, no-cache, max-age=0, a max-stale's bound) looked for the
 * word anywhere: `ext="a, only-if-cached, b"` got a 504 with nothing stored, and `ext="a, no-cache, b"`
 * went upstream past a fresh answer. A directive outside the quotes still counts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedTwice } from '../../helpers/cached-twice.ts';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

for (const [asked, next, upstream] of [
  ['ext="a, no-cache, b"', 'edge-1; hit; ttl=60', 1],
  ['ext="a, max-age=0, b"', 'edge-1; hit; ttl=60', 1],
  ['ext="a no-cache b"', 'edge-1; hit; ttl=60', 1],
  ['ext="a, max-stale=1, b", max-age=0', 'edge-1; fwd=request', 2],
  ['ext="a, b", no-cache', 'edge-1; fwd=request', 2],
  ['no-cache="x, y"', 'edge-1; fwd=request', 2],
  ['max-age=0, ext="b, c"', 'edge-1; fwd=request', 2],
] as const) {
  test(`a fresh stored answer asked with Cache-Control: ${asked}: ${next}`, async () => {
    const { again, upstream: asks } = await cachedTwice(['Cache-Control', 'max-age=60'], {
      'cache-control': asked,
    });
    assert.equal(again.status, 200);
    assert.equal(String(again.headers['cache-status']).replace('ttl=59', 'ttl=60'), next);
    assert.equal(asks, upstream);
  });
}

test("only-if-cached inside another directive's quotes is none: with nothing stored the request goes upstream", async () => {
  // The first request of cachedTwice is a plain miss that stores nothing (no-store); the second asks.
  const { again, upstream } = await cachedTwice(['Cache-Control', 'no-store'], {
    'cache-control': 'ext="a, only-if-cached, b"',
  });
  assert.equal(again.status, 200);
  assert.equal(upstream, 2);
});

test('only-if-cached outside the quotes: the 504 with nothing stored, the upstream not asked', async () => {
  const { again, upstream } = await cachedTwice(['Cache-Control', 'no-store'], {
    'cache-control': 'ext="a, b", only-if-cached',
  });
  assert.equal(again.status, 504);
  assert.equal(upstream, 1);
});

test("no-store inside another directive's quotes is none: the answer to that request is stored", async () => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'page',
  });
  const gw = await startTestGateway(cachedPages(origin.url));
  try {
    await request(gw.url, { path: '/pages/a', headers: { 'cache-control': 'ext="a, no-store, b"' } });
    const again = await request(gw.url, { path: '/pages/a' });
    assert.equal(String(again.headers['cache-status']).replace('ttl=59', 'ttl=60'), 'edge-1; hit; ttl=60');
    assert.equal(origin.heads.length, 1);
  } finally {
    await gw.close();
    await origin.stop();
  }
});
