/**
 * A GET carrying X-HTTP-Method-Override (or X-HTTP-Method, X-Method-Override) is, to an upstream
 * that honours it on a GET (Express's method-override with `methods: null`, say), another method: its answer is
 * not the GET's. The cache neither answers it from the store nor stores what comes back
 * (Cache-Status `fwd=bypass; detail="method-override"`), and one naming an unsafe method
 * invalidates the stored GET as that method would. Before, a DELETE's answer was stored as the
 * page, and every reader of the page was given it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

/**
 * An origin that honours the override fields, in every spelling a CGI-style app reads as one
 * (`X_HTTP_Method_Override` is WSGI's HTTP_X_HTTP_METHOD_OVERRIDE too, which Flask's method
 * override middleware reads on any method): the page, fresh for 10 minutes; a DELETE by
 * override removes it.
 */
async function overridingOrigin(t: { after(fn: () => unknown): void }) {
  let page = 'the page';
  const seen: string[] = [];
  const names = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);
  const up = await listenOnLoopback((req, res) => {
    const override = Object.entries(req.headers).find(([name]) => names.has(name.replaceAll('_', '-')))?.[1];
    const method = String(override ?? req.method).toUpperCase();
    seen.push(method);
    if (method === 'DELETE') {
      page = 'gone';
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      return res.end('deleted');
    }
    res.writeHead(200, { 'cache-control': 'max-age=600' });
    res.end(page);
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  return { gw, seen };
}

for (const field of [
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x_http_method_override',
  'x-http_method-override',
]) {
  test(`a GET with ${field}: DELETE is forwarded past the cache, its answer not stored, the stored page invalidated`, async (t) => {
    const { gw, seen } = await overridingOrigin(t);
    const first = await request(gw.url, { path: '/pages/a' });
    assert.equal(first.text, 'the page');
    assert.equal(
      (await request(gw.url, { path: '/pages/a' })).headers['cache-status'],
      'edge-1; hit; ttl=600',
    );
    const deleted = await request(gw.url, { path: '/pages/a', headers: { [field]: 'delete' } });
    assert.equal(deleted.status, 200);
    assert.equal(deleted.text, 'deleted');
    assert.equal(deleted.headers['cache-status'], 'edge-1; fwd=bypass; detail="method-override"');
    assert.deepEqual(seen, ['GET', 'DELETE']);
    // Neither the DELETE's answer nor the page as it was: the page as it is now, from the origin.
    const after = await request(gw.url, { path: '/pages/a' });
    assert.equal(after.text, 'gone');
    assert.equal(after.headers['cache-status'], 'edge-1; fwd=uri-miss');
    assert.deepEqual(seen, ['GET', 'DELETE', 'GET']);
  });
}

test('a GET with an override naming GET is still not answered from the store nor stored', async (t) => {
  const { gw, seen } = await overridingOrigin(t);
  await request(gw.url, { path: '/pages/b' });
  const res = await request(gw.url, { path: '/pages/b', headers: { 'x-http-method-override': 'GET' } });
  assert.equal(res.text, 'the page');
  assert.equal(res.headers['cache-status'], 'edge-1; fwd=bypass; detail="method-override"');
  assert.deepEqual(seen, ['GET', 'GET']);
  // The page stored by the plain GET is still there: a safe override invalidates nothing.
  assert.equal((await request(gw.url, { path: '/pages/b' })).headers['cache-status'], 'edge-1; hit; ttl=600');
});

test('an empty override field names no method: the GET is a hit, and invalidates nothing', async (t) => {
  const { gw, seen } = await overridingOrigin(t);
  await request(gw.url, { path: '/pages/c' });
  const res = await request(gw.url, { path: '/pages/c', headers: { 'x-http-method-override': '' } });
  assert.equal(res.headers['cache-status'], 'edge-1; hit; ttl=600');
  assert.deepEqual(seen, ['GET']);
});
