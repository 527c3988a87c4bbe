/**
 * A real `candor serve --workers 2` keeps one cache (workers_share): a 304 one worker's
 * revalidation received freshens the stored answer in the other worker too. The worker that got
 * the 304 wrote the freshened answer to the shared folder but told no one, and the other worker
 * kept its stale copy in memory: it went upstream again for a page the gateway held fresh, and
 * with that upstream down gave its failure, where one cache "MUST use the most recent" stored
 * response (RFC 9111 §4).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { serveCachedPages } from '../helpers/cached-pages.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type LoopbackServer, listenOnLoopback } from '../helpers/loopback-server.ts';
import type { ServeProcess } from '../helpers/serve-process.ts';
import { waitUntil } from '../helpers/wait.ts';

/** What the origin does: `stale`, 200 and 304 stale at once; `fresh`, 304 fresh for 10 minutes; `down`, 500. */
let mode: 'stale' | 'fresh' | 'down' = 'stale';
const asked: string[] = [];
let origin: LoopbackServer;
let serve: ServeProcess;
let base: string;

before(async () => {
  origin = await listenOnLoopback((req, res) => {
    asked.push(`${mode} ${req.headers['if-none-match'] ?? ''}`);
    if (mode === 'down') {
      res.writeHead(500, { 'cache-control': 'no-store' });
      return res.end('down');
    }
    const fields = { 'cache-control': mode === 'fresh' ? 'max-age=600' : 'max-age=0', etag: '"v1"' };
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, fields);
      return res.end();
    }
    res.writeHead(200, fields);
    res.end('v1');
  });
  serve = await serveCachedPages(origin.url, { name: 'edge' });
  base = `http://127.0.0.1:${serve.port}`;
});

after(() => closeAll(serve, origin));

/** The Cache-Status of `n` requests in a row, each on a new connection (the primary deals them to both workers in turn). */
async function given(n: number): Promise<string[]> {
  const said: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await request(base, { path: '/pages/home' });
    said.push(`${res.status} ${res.text} ${String(res.headers['cache-status']).replace(/; ttl=-?\d+/, '')}`);
  }
  return said;
}

test("a 304 one worker's revalidation got freshens the other worker's copy: it gives the page fresh, the upstream down", async () => {
  // Both workers hold v1, stale at once: each revalidation is a 304 that leaves it stale.
  const warm = await given(4);
  assert.ok(
    warm.every((line) => line.startsWith('200 v1')),
    warm.join('\n'),
  );
  assert.ok(asked.filter((line) => line === 'stale "v1"').length >= 2, asked.join('\n'));
  mode = 'fresh';
  const revalidated = await request(base, { path: '/pages/home' });
  assert.equal(revalidated.text, 'v1');
  assert.match(String(revalidated.headers['cache-status']), /^edge; fwd=stale; fwd-status=304/);
  mode = 'down';
  // The news reaches the other worker once the freshened answer is in the shared folder: bounded, never timed.
  await waitUntil('both workers give the freshened page as a hit', async () =>
    (await given(4)).every((line) => line === '200 v1 edge; hit'),
  );
  assert.deepEqual(
    asked.filter((line) => line.startsWith('down')),
    [],
    'the other worker read the freshened page, it did not go upstream for it',
  );
});
