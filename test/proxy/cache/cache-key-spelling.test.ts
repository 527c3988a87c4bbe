/**
 * A stored answer's key holds the path in its normal form (issue 31, item 5): every spelling of
 * one path is one entry, and a spelling that normalises into another route's path is that
 * route's request, never an answer out of this route's store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('every spelling of a path is one stored answer; one that names another route reaches that route', async () => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'page',
  });
  const gw = await startTestGateway(`name: edge-1
routes:
  - { name: private, match: { path: /pages/private }, upstream: app }
  - { name: pages, match: { path: /pages }, upstream: app, cache: {} }
upstreams:
  app: { targets: [{ url: ${origin.url} }] }
`);
  try {
    assert.equal(
      (await request(gw.url, { path: '/pages/a' })).headers['cache-status'],
      'edge-1; fwd=uri-miss',
    );
    for (const spelling of [
      '/pages/x/../a',
      '/pages/./a',
      '/pages/%61',
      '/pages//a',
      '/pages/private/../a',
    ]) {
      const res = await request(gw.url, { path: spelling });
      assert.match(String(res.headers['cache-status']), /^edge-1; hit; /, spelling);
    }
    assert.deepEqual(
      origin.heads.map((h) => h.split(' ')[1]),
      ['/pages/a'],
    );
    // Stored under /pages/private/a by no route: the private route has no cache, and its
    // spellings through /pages are its own requests.
    const priv = await request(gw.url, { path: '/pages/x/../private/a' });
    assert.equal(priv.headers['cache-status'], undefined);
    assert.equal((await gw.accessLine(7)).route, 'private');
    assert.deepEqual(
      origin.heads.map((h) => h.split(' ')[1]),
      ['/pages/a', '/pages/private/a'],
    );
  } finally {
    await gw.close();
    await origin.stop();
  }
});
