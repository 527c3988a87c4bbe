/**
 * A stale answer both workers of a real `candor serve --workers 2` hold, revalidated by one of
 * them with a GET: the upstream's 304 freshens that worker's copy and the shared file, and the
 * other worker is told (`cache-stored`, as for a 200 stored): it drops its stale copy and reads
 * the fresh one. Before, only a GET of the other worker's, taking the key's lock, read the folder
 * again (across-workers.ts storedMeanwhile): its HEAD and its Range went upstream to revalidate the
 * same answer once more, its `only-if-cached` was the gateway's 504 though a fresh answer was
 * stored, and within `stale-while-revalidate` it gave the stale copy and refreshed in the background.
 * (A request in the instant before the news comes still finds the stale copy, as after a 200 stored.)
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
    asked.push(`${req.method} ${req.url}${validating === undefined ? '' : ` if-none-match ${validating}`}`);
    if (validating === '"v1"')
      return res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"v1"' }).end();
    res.writeHead(200, { 'cache-control': 'max-age=1', etag: '"v1"' }).end('v1');
  });
  serve = await serveCachedPages(origin.url, { name: 'edge' });
  base = `http://127.0.0.1:${serve.port}`;
});

after(() => closeAll(serve, origin));

/** `n` requests in a row for `path`, each on a new connection (the primary deals them to both workers in turn): their statuses and Cache-Status. */
async function answers(
  path: string,
  n: number,
  method: string,
  headers: Record<string, string> = {},
): Promise<string[]> {
  const said: string[] = [];
  for (let i = 0; i < n; i++) {
    const answer = await request(base, { path, method, headers });
    said.push(`${answer.status} ${answer.headers['cache-status'] ?? '-'}`);
  }
  return said;
}

const asks: { what: string; method: string; headers: Record<string, string>; gives: RegExp }[] = [
  { what: 'head', method: 'HEAD', headers: {}, gives: /^200 edge; hit; ttl=\d+$/ },
  { what: 'range', method: 'GET', headers: { range: 'bytes=0-0' }, gives: /^206 edge; hit; ttl=\d+$/ },
  {
    what: 'only-if-cached',
    method: 'GET',
    headers: { 'cache-control': 'only-if-cached' },
    gives: /^200 edge; hit; ttl=\d+$/,
  },
];

for (const { what, method, headers, gives } of asks)
  test(`a 304 one worker's GET brought is the other worker's too: its ${what} is answered fresh from it`, async () => {
    const path = `/pages/${what}`;
    const of = (line: string) => line.includes(` ${path}`);
    // Both workers hold v1 in memory: the miss stored it, the other worker read it from the shared folder.
    await answers(path, 4, 'GET');
    assert.deepEqual(asked.filter(of), [`GET ${path}`]);
    // Stale in both (Age counts whole seconds): the next GET revalidates it, in one worker.
    await waitUntil('stale', async () => (await answers(path, 1, 'GET'))[0].includes('fwd=stale'));
    const once = [`GET ${path}`, `GET ${path} if-none-match "v1"`];
    assert.deepEqual(asked.filter(of), once);
    // The other worker's news of it comes (through the primary, once the file is in place):
    // before, its stale copy stayed, and only-if-cached there was the gateway's 504 for good.
    const told = async () => (await answers(path, 2, 'GET', { 'cache-control': 'only-if-cached' })).join();
    await waitUntil('the other worker told', async () => /^200 .*,200 /.test(await told()), 5000);
    // Each worker answers it from the fresh answer, neither asking the upstream again.
    for (const said of await answers(path, 2, method, headers)) assert.match(said, gives);
    assert.deepEqual(asked.filter(of), once, 'one revalidation for both workers');
  });
