/**
 * A field a stored answer's Vary names, absent from the request it answered, matches only a
 * request where it is absent too (RFC 9111 §4.1): present and empty (`X-Foo:`) is another
 * request, which the origin may well answer otherwise. Such a request is a `vary-miss`, and a
 * failed upstream gets no stored answer of the other variant standing in for it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

test('a request with the varied field empty is not the stored request without it: a vary-miss', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=600', 'Vary', 'X-Foo'],
    body: 'without X-Foo',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/v' });
  const hit = await request(gw.url, { path: '/pages/v' });
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  const empty = await request(gw.url, { path: '/pages/v', headers: { 'x-foo': '' } });
  assert.equal(empty.headers['cache-status'], 'edge-1; fwd=vary-miss');
  assert.equal(origin.heads.length, 2);
  assert.match(origin.heads[1], /^x-foo: *$/im);
});

test("a failed upstream gets no stored answer of the variant without the field for a request with it empty: the upstream's 503", async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=1', 'Vary', 'X-Foo'],
    body: 'without X-Foo',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url, '{ stale_if_error: 60s }'));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/v' });
  // Past its max-age of a second: stale.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  origin.mood = 'status_503';
  const empty = await request(gw.url, { path: '/pages/v', headers: { 'x-foo': '' } });
  assert.equal(empty.status, 503);
  assert.equal(empty.text, 'down');
  assert.equal(empty.headers['cache-status'], 'edge-1; fwd=vary-miss');
  assert.equal(empty.headers['proxy-status'], 'edge-1; received-status=503; next-hop="app"');
  // The request the answer was stored for still gets it in place of the failure.
  const without = await request(gw.url, { path: '/pages/v' });
  assert.equal(without.status, 200);
  assert.equal(without.text, 'without X-Foo');
  assert.match(
    String(without.headers['cache-status']),
    /^edge-1; hit; fwd=stale; fwd-status=503; ttl=(0|-\d+)$/,
  );
  assert.equal(origin.heads.length, 3);
});
