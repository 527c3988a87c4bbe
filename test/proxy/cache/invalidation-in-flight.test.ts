/**
 * An answer begun before its key was invalidated or purged is not stored after it: a GET's fetch
 * under way when an unsafe request (RFC 9111 §4.4) invalidated its URI, or a read of the shared
 * directory under way when a purge came. Stored, it put back the very answer just dropped.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cacheKey } from '../../../src/proxy/cache/cache-key.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test("a POST answered while a GET of its URI is fetched: the GET's answer is not stored, the next GET goes upstream", async (t) => {
  const answers: (() => void)[] = [];
  const up = await listenOnLoopback((req, res) => {
    if (req.method === 'POST') {
      req.resume();
      res.writeHead(204);
      return res.end();
    }
    answers.push(() => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(`page ${answers.length}`);
    });
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  const first = request(gw.url, { path: '/pages/a' });
  await waitUntil('the GET reaches the upstream', () => answers.length === 1);
  const post = await request(gw.url, { path: '/pages/a', method: 'POST', body: 'changed' });
  assert.equal(post.status, 204);
  answers[0]();
  assert.equal((await first).text, 'page 1');
  let answered = false;
  const again = request(gw.url, { path: '/pages/a' }).finally(() => {
    answered = true;
  });
  // A hit is answered at once; a miss reaches the upstream, which answers it then.
  await waitUntil('the next GET answered or forwarded', () => answered || answers.length === 2);
  answers[1]?.();
  assert.equal((await again).headers['cache-status'], 'edge-1; fwd=uri-miss');
});

test('a purge while a file of cache.dir is read: what the read found is not put back in memory', async (t) => {
  let version = 1;
  const up = await listenOnLoopback((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60' });
    res.end(`version ${version}`);
  });
  t.after(() => up.close());
  const dir = tempDir('candor-cache-');
  const gw = await startTestGateway(cachedPages(up.url, `{ dir: ${dir} }`));
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/pages/a' })).text, 'version 1');
  const cache = gw.gateway.runtime().caches.get('pages');
  const disk = cache?.disk;
  assert.ok(cache !== undefined && disk !== undefined);
  const written = () => readdirSync(join(dir, 'pages')).filter((name) => /^[0-9a-f]{64}$/.test(name));
  await waitUntil('the answer written to the directory', () => written().length === 1);
  // As after a restart, or in another worker: nothing in memory, the file on disk.
  assert.ok(cache.delete(cacheKey(new URL(gw.url).host, '/pages/a', 'http')));
  // The lookup's read ends (the file's answer in hand), and is held there until the purge is
  // over; a later read (the miss's, once it holds the key's lock) is not held.
  const held: (() => void)[] = [];
  const read = disk.read.bind(disk);
  let reads = 0;
  disk.read = (key) => {
    const first = reads++ === 0;
    return read(key).then((found) => (first ? new Promise((done) => held.push(() => done(found))) : found));
  };
  const again = request(gw.url, { path: '/pages/a' });
  await waitUntil('the file read', () => held.length === 1);
  version = 2;
  await gw.gateway.purge({ route: 'pages' });
  held[0]();
  const res = await again;
  assert.equal(res.text, 'version 2');
  assert.equal(res.headers['cache-status'], 'edge-1; fwd=uri-miss');
});
