/**
 * A request that waited for another's fetch of its key and was given what that fetch brought was
 * collapsed into a forward request, not answered without one: RFC 9211 says so with `fwd` (why
 * it would have gone forward) and `collapsed` ("a miss that was collapsed with another request":
 * `fwd=uri-miss; collapsed`, §3), never `hit`, which is an answer "not forwarded" (§2.1).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test('a request that waited for the fetch of a missing key says fwd=uri-miss; collapsed, not hit', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=600'],
    body: 'page',
  });
  origin.delayMs = 400;
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  const lead = request(gw.url, { path: '/pages/c' });
  await waitUntil('the fetch reaches the upstream', () => origin.heads.length === 1);
  const waiter = await request(gw.url, { path: '/pages/c' });
  assert.equal((await lead).headers['cache-status'], 'edge-1; fwd=uri-miss');
  assert.equal(waiter.text, 'page');
  assert.match(String(waiter.headers['cache-status']), /^edge-1; fwd=uri-miss; ttl=\d+; collapsed$/);
  assert.equal(origin.heads.length, 1);
  // Afterwards, a hit: answered from the store, not forwarded.
  const hit = await request(gw.url, { path: '/pages/c' });
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
});

test("a request that waited for another's revalidation of the stale answer says fwd=stale; collapsed", async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=1', 'ETag', '"v1"'],
    body: 'page',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/s' });
  // Past its max-age of a second: stale, revalidated by the next request, slowly.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  origin.notModifiedFor = '"v1"';
  origin.answer = { ...origin.answer, fields: ['Cache-Control', 'max-age=600', 'ETag', '"v1"'] };
  origin.delayMs = 400;
  const lead = request(gw.url, { path: '/pages/s' });
  await waitUntil('the revalidation reaches the upstream', () => origin.heads.length === 2);
  const waiter = await request(gw.url, { path: '/pages/s' });
  assert.match(String((await lead).headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=\d+$/);
  assert.equal(waiter.text, 'page');
  assert.match(String(waiter.headers['cache-status']), /^edge-1; fwd=stale; ttl=\d+; collapsed$/);
  assert.equal(origin.heads.length, 2);
});
