/**
 * A Range that finds nothing stored in one worker while another worker sharing `cache.dir` is
 * fetching the whole answer (it holds the key's lock, fill-lock.ts): answered from that fetch's
 * file as it grows (fill-file.ts), not once the whole answer is stored. Two gateways on one
 * folder stand in for two workers. The upstream holds the rest of its body until the test says:
 * the second worker's client having its bytes while it waits proves they came as it streamed.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveCachedPages } from '../../helpers/cached-pages.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { BODY, FIRST, LENGTH, pausedOrigin, streamed } from '../../helpers/paused-origin.ts';
import { HIT, MISS, type Seen, WHOLE } from '../../helpers/ranged-origin.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

const cacheIn = (dir: string) => `{ dir: ${dir}, lock_timeout: 60s, max_entry: 8MiB }`;

/** Two gateways (two workers) on one cache folder. */
async function twoWorkers(url: string) {
  const dir = tempDir('candor-range-across-');
  const cache = cacheIn(dir);
  const one = await keep(startTestGateway(cachedPages(url, cache)));
  const two = await keep(startTestGateway(cachedPages(url, cache)));
  // The key names the authority: the same Host in both, as two workers on one listener see it.
  return { one, two, dir, host: new URL(one.url).host };
}

test("a Range miss in another worker follows the fetching worker's file: its 206 and bytes while the upstream still holds the rest", async () => {
  const seen: Seen[] = [];
  const up = await pausedOrigin(seen, keep);
  const { one, two, dir, host } = await twoWorkers(up.url);
  // The first worker's Range starts the whole fetch, and holds the key's lock.
  const first = await request(one.url, {
    path: '/pages/clip',
    headers: { range: 'bytes=0-9' },
    timeoutMs: 5000,
  });
  assert.equal(first.status, 206);
  assert.ok(up.waiting);
  const part = await request(two.url, {
    path: '/pages/clip',
    headers: { host, range: 'bytes=1000-50999', 'x-request-id': 'other' },
    timeoutMs: 5000,
  });
  assert.ok(up.waiting, "the other worker's client had its part while the upstream still holds the rest");
  assert.equal(part.status, 206);
  assert.equal(part.aborted, false);
  assert.equal(part.headers['content-range'], `bytes 1000-50999/${LENGTH}`);
  assert.equal(part.headers['content-length'], '50000');
  assert.equal(part.headers.etag, '"v1"');
  assert.equal(part.headers['content-type'], 'video/mp4');
  assert.match(String(part.headers['cache-status']), MISS);
  assert.deepEqual(part.body, BODY.subarray(1000, 51000));
  const line = await two.logFor('other');
  assert.equal(line.cache, 'collapsed');
  assert.equal(line.attempts, 0);
  // Past what came: its head at once, its bytes once the upstream goes on.
  const late = request(two.url, {
    path: '/pages/clip',
    headers: { host, range: `bytes=${LENGTH - 1000}-` },
    timeoutMs: 5000,
  });
  up.go();
  const tail = await late;
  assert.equal(tail.status, 206);
  assert.equal(tail.aborted, false);
  assert.deepEqual(tail.body, BODY.subarray(LENGTH - 1000));
  // The whole answer, once stored, is the other worker's too: a hit, no second fetch.
  await waitUntil('the other worker read the stored answer', async () => {
    const hit = await request(two.url, { path: '/pages/clip', headers: { host, range: 'bytes=-10' } });
    return HIT.test(String(hit.headers['cache-status'])) && hit.body.equals(BODY.subarray(LENGTH - 10));
  });
  assert.deepEqual(seen, [WHOLE('/pages/clip')]);
  // The growing file went once the fetch was over: only the stored answer's is left.
  await waitUntil('the lock let go', () => readdirSync(join(dir, 'pages')).length === 1);
  assert.match(readdirSync(join(dir, 'pages'))[0], /^[0-9a-f]{64}$/);
});

test("the fetching worker's upstream cut mid-body: the other worker's client sees its answer cut, never a short one that looks whole", async () => {
  const seen: Seen[] = [];
  const up = await pausedOrigin(seen, keep);
  const { one, two, host } = await twoWorkers(up.url);
  const first = await request(one.url, {
    path: '/pages/cut',
    headers: { range: 'bytes=0-9' },
    timeoutMs: 5000,
  });
  assert.equal(first.status, 206);
  const asked = streamed(two.url, '/pages/cut', {
    host,
    range: `bytes=0-${FIRST * 2 - 1}`,
    'x-request-id': 'cut',
  });
  const head = await asked.head;
  assert.ok(up.waiting, 'the head came while the upstream still holds the rest of the body');
  assert.equal(head.statusCode, 206);
  assert.equal(head.headers['content-range'], `bytes 0-${FIRST * 2 - 1}/${LENGTH}`);
  up.reset();
  const { body, complete } = await asked.body;
  assert.equal(complete, false, 'the transfer is cut, not ended');
  assert.ok(body.length < FIRST * 2);
  assert.deepEqual(body, BODY.subarray(0, body.length));
  const line = await two.logFor('cut');
  assert.equal(line.status, 206);
  assert.equal(line.error, 'http_response_incomplete');
  assert.deepEqual(seen, [WHOLE('/pages/cut')]);
});

test("the fetching worker killed mid-body: the other worker's client sees its answer cut (the lock's owner is gone)", async (t) => {
  if (process.platform !== 'linux') return t.skip('a lock owner is judged gone by /proc');
  const seen: Seen[] = [];
  const up = await pausedOrigin(seen, keep);
  const dir = tempDir('candor-range-across-');
  // A real worker process to kill: `candor serve --workers 1` on the folder, and a gateway here beside it.
  const serve = await serveCachedPages(up.url, { cache: cacheIn(dir), workers: 1 });
  t.after(() => serve.stop());
  const two = await keep(startTestGateway(cachedPages(up.url, cacheIn(dir))));
  const host = 'media.test';
  const first = await request(`http://127.0.0.1:${serve.port}`, {
    path: '/pages/killed',
    headers: { host, range: 'bytes=0-9' },
    timeoutMs: 5000,
  });
  assert.equal(first.status, 206);
  const asked = streamed(two.url, '/pages/killed', {
    host,
    range: `bytes=0-${FIRST * 2 - 1}`,
    'x-request-id': 'killed',
  });
  const head = await asked.head;
  assert.ok(up.waiting, 'the head came while the upstream still holds the rest of the body');
  assert.equal(head.statusCode, 206);
  // The lock names its owner: the worker fetching, killed as a crash or the OOM killer would.
  const lock = readdirSync(join(dir, 'pages')).find((name) => name.endsWith('.lock')) as string;
  const pid = Number(/^\d+/.exec(readFileSync(join(dir, 'pages', lock), 'latin1'))?.[0]);
  assert.notEqual(pid, process.pid);
  process.kill(pid, 'SIGKILL');
  const { body, complete } = await asked.body;
  assert.equal(complete, false, 'the transfer is cut, not ended');
  assert.ok(body.length < FIRST * 2);
  assert.deepEqual(body, BODY.subarray(0, body.length));
  const line = await two.logFor('killed');
  assert.equal(line.status, 206);
  assert.equal(line.error, 'http_response_incomplete');
  assert.deepEqual(seen, [WHOLE('/pages/killed')]);
});
