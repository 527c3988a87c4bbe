/**
 * must-revalidate and proxy-revalidate (RFC 9111 §5.2.2.2, §5.2.2.8) bind a stored answer once
 * it is stale, and only then: a fresh one is a hit like any other; a stale one goes upstream
 * with its validators before it is given, even within stale-while-revalidate or to a client's
 * max-stale. A no-cache answer (§5.2.2.4), stale at once, is validated before each use likewise.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

async function gatewayFor(t: { after(fn: () => unknown): void }, cacheControl: string) {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', cacheControl, 'ETag', '"v1"'],
    body: 'page v1',
  });
  t.after(() => origin.stop());
  origin.notModifiedFor = '"v1"';
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  return { gw, origin };
}

for (const directive of ['must-revalidate', 'proxy-revalidate']) {
  test(`a fresh answer with ${directive} is a hit: the upstream is not asked while it is fresh`, async (t) => {
    const { gw, origin } = await gatewayFor(t, `max-age=600, ${directive}`);
    assert.equal(
      (await request(gw.url, { path: '/pages/a' })).headers['cache-status'],
      'edge-1; fwd=uri-miss',
    );
    for (let i = 0; i < 3; i++) {
      const hit = await request(gw.url, { path: '/pages/a' });
      assert.equal(hit.status, 200);
      assert.equal(hit.text, 'page v1');
      assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=(599|600)$/);
      assert.equal(hit.headers['cache-control'], `max-age=600, ${directive}`);
    }
    assert.equal(origin.heads.length, 1, 'one request reached the upstream');
  });

  test(`a stale answer with ${directive} is validated before it is given, within stale-while-revalidate and to max-stale too`, async (t) => {
    const { gw, origin } = await gatewayFor(t, `max-age=0, ${directive}, stale-while-revalidate=60`);
    await request(gw.url, { path: '/pages/b' });
    const swr = await request(gw.url, { path: '/pages/b' });
    assert.equal(swr.text, 'page v1');
    assert.match(String(swr.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=-?\d+$/);
    const maxStale = await request(gw.url, {
      path: '/pages/b',
      headers: { 'cache-control': 'max-stale=600' },
    });
    assert.match(String(maxStale.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=-?\d+$/);
    assert.equal(origin.heads.length, 3);
    assert.match(origin.heads[1], /^if-none-match: "v1"$/im);
    assert.match(origin.heads[2], /^if-none-match: "v1"$/im);
  });
}

test('a stale s-maxage answer is validated before it is given, within stale-while-revalidate and to max-stale too (s-maxage is proxy-revalidate for a shared cache, RFC 9111 §5.2.2.10)', async (t) => {
  const { gw, origin } = await gatewayFor(t, 's-maxage=0, stale-while-revalidate=60');
  await request(gw.url, { path: '/pages/s' });
  for (const headers of [{}, { 'cache-control': 'max-stale=600' }]) {
    const res = await request(gw.url, { path: '/pages/s', headers });
    assert.equal(res.text, 'page v1');
    assert.match(String(res.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=-?\d+$/);
  }
  assert.equal(origin.heads.length, 3, 'each stale use went upstream first');
  assert.match(origin.heads[1], /^if-none-match: "v1"$/im);
  assert.match(origin.heads[2], /^if-none-match: "v1"$/im);
});

test('a no-cache answer is validated before each use, within stale-while-revalidate and to max-stale too', async (t) => {
  const { gw, origin } = await gatewayFor(t, 'max-age=600, no-cache, stale-while-revalidate=600');
  await request(gw.url, { path: '/pages/c' });
  for (const headers of [{}, { 'cache-control': 'max-stale=600' }]) {
    const res = await request(gw.url, { path: '/pages/c', headers });
    assert.equal(res.text, 'page v1');
    assert.match(String(res.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=-?\d+$/);
  }
  assert.equal(origin.heads.length, 3);
  assert.match(origin.heads[2], /^if-none-match: "v1"$/im);
});

for (const cacheControl of ['no-cache', 'max-age=0, must-revalidate', 's-maxage=0']) {
  test(`a stale "${cacheControl}" answer with a validator is kept for its revalidation: the next request sends its ETag, and a 304 renews it`, async (t) => {
    const { gw, origin } = await gatewayFor(t, cacheControl);
    await request(gw.url, { path: '/pages/k' });
    const res = await request(gw.url, { path: '/pages/k' });
    assert.equal(res.text, 'page v1');
    assert.match(String(res.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=-?\d+$/);
    assert.match(origin.heads[1], /^if-none-match: "v1"$/im);
  });
}
