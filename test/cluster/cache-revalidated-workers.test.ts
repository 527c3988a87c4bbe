/**
 * A stale answer both workers of a real `candor serve --workers 2` hold, revalidated by one of
 * them (fill-lock.ts: one fetch of a key for every worker). The upstream's 304 freshens the copy
 * held by the worker that asked, and its file in the shared folder, but no news of it goes to the
 * other worker (a 200's does: `cache-stored`); that one still held its stale copy, took the key's
 * lock (free again) and revalidated it once more itself: a conditional GET upstream a worker, where
 * coalescing across workers means one. Once it has the lock, a worker holding a stale answer reads
 * the folder again, and the fresh answer there is its answer (across-workers.ts storedMeanwhile).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { serveCachedPages } from '../helpers/cached-pages.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type LoopbackServer, listenOnLoopback } from '../helpers/loopback-server.ts';
import type { ServeProcess } from '../helpers/serve-process.ts';
import { waitUntil } from '../helpers/wait.ts';

const asked: string[] = [];
let origin: LoopbackServer;
let serve: ServeProcess;
let base: string;

before(async () => {
  // Fresh for a second at first; every revalidation after is a 304 that keeps it ten minutes.
  origin = await listenOnLoopback((req, res) => {
    const validating = req.headers['if-none-match'];
    asked.push(validating === undefined ? 'GET' : `GET if-none-match ${validating}`);
    if (validating === '"v1"')
      return res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"v1"' }).end();
    res.writeHead(200, { 'cache-control': 'max-age=1', etag: '"v1"' }).end('v1');
  });
  serve = await serveCachedPages(origin.url, { name: 'edge' });
  base = `http://127.0.0.1:${serve.port}`;
});

after(() => closeAll(serve, origin));

/** The Cache-Status of `n` requests in a row, each on a new connection (the primary deals them to both workers in turn). */
async function statuses(n: number): Promise<string[]> {
  const said: string[] = [];
  for (let i = 0; i < n; i++) {
    const answer = await request(base, { path: '/pages/home' });
    assert.equal(answer.text, 'v1');
    said.push(String(answer.headers['cache-status']));
  }
  return said;
}

test('a stale answer one worker revalidated (a 304) is not revalidated again by the other worker, which held it too', async () => {
  // Both workers hold v1 in memory: the miss stored it, the other worker read it from the shared folder.
  await statuses(4);
  assert.deepEqual(asked, ['GET']);
  // Stale in both (Age counts whole seconds): the next request revalidates it.
  await waitUntil('stale', async () => (await statuses(1))[0].includes('fwd=stale'));
  assert.deepEqual(asked, ['GET', 'GET if-none-match "v1"']);
  // Both workers give it fresh now, neither asking again.
  const said = await statuses(6);
  for (const status of said) assert.match(status, /^edge; (hit; ttl=\d+|fwd=stale; ttl=\d+; collapsed)$/);
  assert.deepEqual(asked, ['GET', 'GET if-none-match "v1"'], 'one revalidation for both workers');
});
