/**
 * A 200 the upstream gives a HEAD the cache forwarded speaks for the stored GET answer (RFC 9111
 * §4.3.5): with the stored validators (and length), its fields update the stored answer; with
 * others, the stored answer is no longer the resource, and goes: the next GET reaches the upstream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

/** A page fresh for 10 minutes; `page.tag`, `page.body` and `page.note` change it. Conditionals are not honoured. */
async function pageOrigin(t: { after(fn: () => unknown): void }) {
  const page = { tag: '"v1"', body: 'version 1', note: 'old', gets: 0, heads: 0 };
  const up = await listenOnLoopback((req, res) => {
    if (req.method === 'GET') page.gets++;
    else page.heads++;
    res.writeHead(200, {
      'cache-control': 'max-age=600',
      etag: page.tag,
      'x-note': page.note,
      'content-length': Buffer.byteLength(page.body),
    });
    res.end(req.method === 'HEAD' ? undefined : page.body);
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  return { gw, page };
}

/** A HEAD that goes upstream though a fresh answer is stored (the client's no-cache). */
const headUpstream = { method: 'HEAD', path: '/pages/p', headers: { 'cache-control': 'no-cache' } };

test('a HEAD whose ETag differs from the stored GET answer drops it: the next GET gets the new page', async (t) => {
  const { gw, page } = await pageOrigin(t);
  assert.equal((await request(gw.url, { path: '/pages/p' })).text, 'version 1');
  page.tag = '"v2"';
  page.body = 'version 2';
  const head = await request(gw.url, headUpstream);
  assert.equal(head.status, 200);
  assert.equal(head.headers.etag, '"v2"');
  assert.equal(page.heads, 1);
  const next = await request(gw.url, { path: '/pages/p' });
  assert.equal(next.text, 'version 2');
  assert.equal(next.headers['cache-status'], 'edge-1; fwd=uri-miss');
  assert.equal(page.gets, 2);
});

test("a HEAD with the stored ETag but another Content-Length drops it too: the stored body is not the resource's", async (t) => {
  const { gw, page } = await pageOrigin(t);
  await request(gw.url, { path: '/pages/p' });
  page.body = 'version 1, longer';
  await request(gw.url, headUpstream);
  assert.equal((await request(gw.url, { path: '/pages/p' })).text, 'version 1, longer');
  assert.equal(page.gets, 2);
});

test("a HEAD with the stored ETag and length updates the stored answer's fields: the next GET is a hit with them", async (t) => {
  const { gw, page } = await pageOrigin(t);
  await request(gw.url, { path: '/pages/p' });
  page.note = 'new';
  await request(gw.url, headUpstream);
  const next = await request(gw.url, { path: '/pages/p' });
  assert.equal(next.text, 'version 1');
  assert.equal(next.headers['x-note'], 'new');
  assert.match(String(next.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.equal(page.gets, 1);
});
