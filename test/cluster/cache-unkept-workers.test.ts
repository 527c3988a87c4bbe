/**
 * A revalidation through one worker whose 304 says the answer may no longer be kept (`no-store`,
 * `private`: RFC 9111 §3) ends its keeping in every worker of a real `candor serve --workers 2`:
 * the other worker held its own copy in memory and gave it in place of the next failure, a page
 * the origin had just withdrawn from shared caches. So does a HEAD whose 200 names another
 * representation (RFC 9111 §4.3.5: the stored page is no longer the resource's).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serveCachedPages } from '../helpers/cached-pages.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { listenOnLoopback } from '../helpers/loopback-server.ts';
import { waitUntil } from '../helpers/wait.ts';

const cases = [
  { share: true, change: 'no-store' },
  { share: false, change: 'no-store' },
  { share: true, change: 'changed' },
] as const;

for (const { share, change } of cases) {
  const what = change === 'no-store' ? 'a 304 that says no-store' : 'a HEAD whose 200 has another ETag';
  test(`${what} through one worker: no worker gives the page in place of a failure after it (workers_share: ${share})`, async (t) => {
    let mode: 'keep' | 'no-store' | 'changed' | 'down' = 'keep';
    let revalidations = 0;
    const origin = await listenOnLoopback((req, res) => {
      if (mode === 'down') return res.writeHead(503).end('down');
      if (mode === 'changed') {
        res.writeHead(200, { 'cache-control': 'max-age=10', 'content-length': '2', etag: '"v2"' });
        return res.end();
      }
      if (req.headers['if-none-match'] === undefined) {
        // Stale as it comes (Age past max-age), kept for its revalidations (its ETag).
        res.writeHead(200, { 'cache-control': 'max-age=10', age: '20', etag: '"v1"' });
        return res.end('v1');
      }
      revalidations++;
      const cc = mode === 'keep' ? 'max-age=10' : 'no-store';
      res.writeHead(304, { 'cache-control': cc, age: '20', etag: '"v1"' }).end();
    });
    const serve = await serveCachedPages(origin.url, { name: 'edge', cache: `{ workers_share: ${share} }` });
    t.after(() => closeAll(serve, origin));
    const base = `http://127.0.0.1:${serve.port}`;
    const page = { path: '/pages/doc' };
    // Fresh connections go to the workers in turn: each holds the stale page once it revalidated it.
    for (let i = 0; i < 20 && revalidations < 3; i++) assert.equal((await request(base, page)).text, 'v1');
    assert.ok(revalidations >= 3, 'both workers revalidated the page they hold');
    mode = change;
    if (change === 'no-store') {
      const last = await request(base, page);
      assert.equal(last.text, 'v1', 'the 304 answers the request that revalidated it');
      assert.match(String(last.headers['cache-status']), /^edge; fwd=stale; fwd-status=304/);
    } else {
      const head = await request(base, { ...page, method: 'HEAD' });
      assert.equal(head.headers.etag, '"v2"');
      assert.equal(head.headers['cache-status'], 'edge; fwd=stale');
    }
    mode = 'down';
    // The other worker hears of it through the primary: bounded, never timed.
    await waitUntil('the 503 from both workers', async () => {
      for (let i = 0; i < 4; i++) if ((await request(base, page)).status !== 503) return false;
      return true;
    });
    for (let i = 0; i < 4; i++) {
      const res = await request(base, page);
      assert.equal(res.status, 503, "the upstream's own 503: nothing stored stands in");
      assert.equal(res.headers['cache-status'], 'edge; fwd=uri-miss');
    }
  });
}
