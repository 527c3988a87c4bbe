/**
 * A 304 identifies the stored answers to update as RFC 9111 §4.3.4 says: a strong validator in
 * it identifies those stored with that same strong validator, and none other; a weak one, those
 * whose validator it matches weakly. A stored `W/"v1"` (a weak tag: a representation the origin
 * only vouches is equivalent) is not the representation a 304 with `ETag: "v1"` names, and was
 * freshened by it all the same, to the cache's own revalidation and to a client's relayed 304.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

/** An origin whose 200 carries `stored` (stale at once), and whose 304 to any conditional request carries `notModified` and 60 s of freshness. */
async function origin(t: { after(fn: () => unknown): void }, stored: string, notModified: string) {
  const conditionals: http.IncomingHttpHeaders[] = [];
  const up = await listenOnLoopback((req, res) => {
    if (req.headers['if-none-match'] === undefined) {
      res.writeHead(200, { 'cache-control': 'max-age=0', etag: stored });
      res.end('<p>home</p>');
      return;
    }
    conditionals.push(req.headers);
    res.writeHead(304, { etag: notModified, 'cache-control': 'max-age=60' });
    res.end();
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  return { gw, conditionals };
}

test('a 304 with a strong ETag does not freshen a stored answer whose ETag is the weak one of the same opaque tag', async (t) => {
  const { gw, conditionals } = await origin(t, 'W/"v1"', '"v1"');
  assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
  const revalidated = await request(gw.url, { path: '/pages/home' });
  assert.equal(conditionals[0]['if-none-match'], 'W/"v1"');
  assert.equal(revalidated.text, '<p>home</p>');
  assert.equal(revalidated.headers.etag, 'W/"v1"');
  assert.equal(revalidated.headers['cache-control'], 'max-age=0', 'the stored answer goes as it stands');
  assert.match(
    String(revalidated.headers['cache-status']),
    /^edge-1; fwd=stale; fwd-status=304; ttl=(0|-\d+)$/,
  );
  const next = await request(gw.url, { path: '/pages/home' });
  assert.match(
    String(next.headers['cache-status']),
    /^edge-1; fwd=stale/,
    'still stale: it revalidates again',
  );
  assert.equal(conditionals.length, 2);
});

test("a client's own 304 with a strong ETag, relayed, does not freshen the stored answer with the weak tag", async (t) => {
  const { gw, conditionals } = await origin(t, 'W/"v1"', '"v1"');
  assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
  const relayed = await request(gw.url, { path: '/pages/home', headers: { 'if-none-match': '"v1"' } });
  assert.equal(relayed.status, 304);
  assert.equal(conditionals.length, 1);
  const next = await request(gw.url, { path: '/pages/home' });
  assert.match(String(next.headers['cache-status']), /^edge-1; fwd=stale/, 'still stale: it revalidates');
  assert.equal(conditionals.length, 2);
});

test('a 304 with a weak ETag freshens the stored answer whose strong tag it matches weakly (RFC 9111 §4.3.4)', async (t) => {
  const { gw, conditionals } = await origin(t, '"v1"', 'W/"v1"');
  assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
  const revalidated = await request(gw.url, { path: '/pages/home' });
  assert.match(
    String(revalidated.headers['cache-status']),
    /^edge-1; fwd=stale; fwd-status=304; ttl=(59|60)$/,
  );
  const hit = await request(gw.url, { path: '/pages/home' });
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=(59|60)$/);
  assert.equal(conditionals.length, 1);
});
