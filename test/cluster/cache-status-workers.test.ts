/**
 * `candor serve --workers 3` keeps one cache for the gateway (workers_share): a page one worker
 * stored is read by the others from the shared folder, and each then holds a copy in memory.
 * `GET /status` (and the status page) tells the route's stored answers: the gateway's, each
 * once however many workers hold a copy, as `DELETE /cache` counts what it removed. Summed over
 * the workers, one page read by three said three stored answers, and purging it said 1 removed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type LoopbackServer, listenOnLoopback } from '../helpers/loopback-server.ts';
import { adminCall, type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freePort } from '../helpers/wait.ts';

const TOKEN = 'cache-status-workers-token-abcdefgh';
let origin: LoopbackServer;
let serve: ServeProcess;
let adminPort: number;
let base: string;

before(async () => {
  origin = await listenOnLoopback((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
    res.end('the same page');
  });
  const dir = tempDir('candor-cache-status-');
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: edge-1
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${join(dir, 'token')} }
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    targets:
      - url: ${origin.url}
`,
  );
  serve = await startServe(path, 3, { admin: true });
  base = `http://127.0.0.1:${serve.port}`;
});

after(() => closeAll(serve, origin));

/** The route's cache as `GET /status` merges it. */
async function cacheStatus(): Promise<{ entries: number; bytes: number }> {
  const status = (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body;
  return (status.routes as Record<string, { cache: { entries: number; bytes: number } }>).pages.cache;
}

/** `path` asked on `n` connections of their own, which the kernel spreads over the workers: each then holds a copy. */
async function readEverywhere(path: string, n = 24): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal((await request(base, { path })).status, 200);
}

test('a page every worker holds a copy of is one stored answer in GET /status, two pages two', async () => {
  await readEverywhere('/pages/a');
  const one = await cacheStatus();
  assert.equal(one.entries, 1, 'one page stored, whatever the number of workers holding it');
  await readEverywhere('/pages/b');
  const two = await cacheStatus();
  assert.equal(two.entries, 2);
  // The two answers are the same size (paths and bodies of one length): each counted once.
  assert.equal(two.bytes, 2 * one.bytes);
  const purged = await adminCall(adminPort, 'DELETE', '/cache?route=pages', { token: TOKEN });
  assert.equal(purged.body.removed, two.entries, 'the purge removes what the status said was stored');
  assert.deepEqual(await cacheStatus(), { entries: 0, bytes: 0, stale: {} });
});
