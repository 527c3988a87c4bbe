/**
 * A real `candor serve --workers 2` keeps one cache (workers_share): an answer one worker fetched
 * anew and stored (a client's reload, a revalidation the upstream answered with a new page)
 * replaces the key's answer in the other worker too. Each worker holds copies in memory, and the
 * other one gave its old copy on: the gateway answered the old and the new page in turn, going
 * back in time on every other request, where one cache "MUST use the most recent" stored
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

let page = 'v1';
const asked: string[] = [];
let origin: LoopbackServer;
let serve: ServeProcess;
let base: string;

before(async () => {
  origin = await listenOnLoopback((req, res) => {
    asked.push(`${req.method} ${req.headers['cache-control'] ?? ''}`);
    res.writeHead(200, { 'cache-control': 'max-age=600', etag: `"${page}"` });
    res.end(page);
  });
  serve = await serveCachedPages(origin.url, { name: 'edge' });
  base = `http://127.0.0.1:${serve.port}`;
});

after(() => closeAll(serve, origin));

/** The page given to `n` requests in a row, each on a new connection (the primary deals them to both workers in turn). */
async function pagesGiven(n: number): Promise<string[]> {
  const given: string[] = [];
  for (let i = 0; i < n; i++) given.push((await request(base, { path: '/pages/home' })).text);
  return given;
}

test("a page one worker fetched anew replaces the other worker's copy: every request gets the new page, never the old one again", async () => {
  // Both workers hold v1 in memory: the miss stored it, the other worker read it from the shared folder.
  assert.deepEqual(await pagesGiven(4), ['v1', 'v1', 'v1', 'v1']);
  assert.deepEqual(asked, ['GET ']);
  page = 'v2';
  const reload = await request(base, { path: '/pages/home', headers: { 'cache-control': 'no-cache' } });
  assert.equal(reload.text, 'v2');
  assert.equal(reload.headers['cache-status'], 'edge; fwd=request');
  // The news reaches the other worker once the new answer is in the shared folder: bounded, never timed.
  await waitUntil('the new page given by both workers', async () =>
    (await pagesGiven(4)).every((text) => text === 'v2'),
  );
  // Once one worker gave v2, none gives v1 again.
  assert.deepEqual(await pagesGiven(6), ['v2', 'v2', 'v2', 'v2', 'v2', 'v2']);
  assert.deepEqual(
    asked,
    ['GET ', 'GET no-cache'],
    'the other worker read the new page, it did not fetch it',
  );
});
