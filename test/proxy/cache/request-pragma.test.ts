/**
 * A request's `Pragma: no-cache` stands for `Cache-Control: no-cache` only where the request has
 * no Cache-Control (RFC 9111 §5.4): an HTTP/1.0 cache's Pragma beside a client's own directives
 * is ignored, for the hit and for the `fwd` a stale answer is forwarded with.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

test('Pragma: no-cache beside Cache-Control is ignored: the fresh stored answer is a hit', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=600'],
    body: 'page',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/p' });
  const both = await request(gw.url, {
    path: '/pages/p',
    headers: { pragma: 'no-cache', 'cache-control': 'max-stale=60' },
  });
  assert.equal(both.text, 'page');
  assert.match(String(both.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.equal(origin.heads.length, 1);
  // Alone, it is the request's no-cache: upstream.
  const alone = await request(gw.url, { path: '/pages/p', headers: { pragma: 'no-cache' } });
  assert.equal(alone.headers['cache-status'], 'edge-1; fwd=request');
  assert.equal(origin.heads.length, 2);
  // Its no-cache is read case-insensitively, as a Cache-Control directive is.
  const spelled = await request(gw.url, { path: '/pages/p', headers: { pragma: 'No-Cache' } });
  assert.equal(spelled.headers['cache-status'], 'edge-1; fwd=request');
  assert.equal(origin.heads.length, 3);
});

test("a stale answer's forward is fwd=stale when Pragma: no-cache comes with a Cache-Control that does not refuse it", async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0'],
    body: 'page',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/s' });
  const res = await request(gw.url, {
    path: '/pages/s',
    headers: { pragma: 'no-cache', 'cache-control': 'max-age=05' },
  });
  assert.equal(res.headers['cache-status'], 'edge-1; fwd=stale');
  const refused = await request(gw.url, { path: '/pages/s', headers: { 'cache-control': 'max-age=0' } });
  assert.equal(refused.headers['cache-status'], 'edge-1; fwd=request');
});
