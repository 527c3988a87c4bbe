/**
 * Two caching gateways in a row (edge-1 before edge-2, before the origin). Proxy-Status (RFC 9209)
 * tells how the intermediaries handled one exchange: the 304 edge-2 answers edge-1's revalidation
 * with while the origin is down (its stored answer standing in) names the failure, and that goes to
 * the client whose request it answered, as its Set-Cookie would. Kept with edge-1's stored answer,
 * it told every later hit of a failure no request had met: once the origin was back, the fresh hit
 * still said `edge-2; error=connection_terminated`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

test('a stored answer keeps no Proxy-Status: a hit once the origin is back does not name the failure an earlier revalidation met', async (t) => {
  let mood: 'up' | 'reset' = 'up';
  const origin = await listenOnLoopback((req, res) => {
    if (mood === 'reset') {
      req.socket.destroy();
      return;
    }
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { 'cache-control': 'max-age=60', etag: '"v1"' });
      res.end();
      return;
    }
    // Stale on arrival (Age past max-age): each gateway revalidates it at the next request.
    res.writeHead(200, {
      'content-type': 'text/plain',
      'cache-control': 'max-age=60',
      age: '120',
      etag: '"v1"',
    });
    res.end('page');
  });
  t.after(() => origin.close());
  const inner = await startTestGateway(cachedPages(origin.url, '{}', 'edge-2'));
  t.after(() => inner.close());
  const outer = await startTestGateway(cachedPages(inner.url, '{}', 'edge-1'));
  t.after(() => outer.close());

  const filled = await request(outer.url, { path: '/pages/a' });
  assert.equal(filled.headers['cache-status'], 'edge-2; fwd=uri-miss, edge-1; fwd=uri-miss');

  mood = 'reset';
  const stale = await request(outer.url, { path: '/pages/a' });
  assert.equal(stale.status, 200);
  assert.equal(stale.text, 'page');
  assert.match(
    String(stale.headers['cache-status']),
    /^edge-2; hit; fwd=stale; fwd-status=502; ttl=-\d+; detail="connection_terminated", edge-1; fwd=stale; fwd-status=304; ttl=-\d+$/,
  );
  // This exchange's: edge-2 gave its stored answer because the origin failed.
  assert.match(String(stale.headers['proxy-status']), /^edge-2; error=connection_terminated; /);

  mood = 'up';
  const revalidated = await request(outer.url, { path: '/pages/a' });
  assert.equal(revalidated.text, 'page');
  assert.match(String(revalidated.headers['cache-status']), /, edge-1; fwd=stale; fwd-status=304; ttl=\d+$/);
  assert.equal(revalidated.headers['proxy-status'], undefined);

  const hit = await request(outer.url, { path: '/pages/a' });
  assert.equal(hit.text, 'page');
  assert.match(String(hit.headers['cache-status']), /, edge-1; hit; ttl=\d+$/);
  assert.equal(hit.headers['proxy-status'], undefined);
});
