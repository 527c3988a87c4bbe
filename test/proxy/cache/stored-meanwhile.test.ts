/**
 * Two workers sharing cache.dir: a miss looks in the folder, finds nothing, and takes the key's
 * lock; another worker's fetch of the key may have ended between the two (its answer written, its
 * lock gone), and the miss would fetch again what was just stored (the whole suite once saw two
 * fetches of one page behind `candor serve --workers 2`: test/cluster/cache-stored-workers.test.ts).
 * Once the lock is had, the folder is read again where nothing was stored at the look; a fresh
 * answer this worker was told of meanwhile is found as well.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { storedMeanwhile } from '../../../src/proxy/cache/across-workers.ts';
import { AnswerCache } from '../../../src/proxy/cache/answer-cache.ts';
import { originOnly } from '../../../src/proxy/cache/freshness.ts';
import { policyOf, StoredAnswer } from '../../../src/proxy/cache/stored-answer.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const config = {
  maxSize: 1 << 20,
  maxEntry: 1 << 16,
  lockTimeout: 5_000,
  workersShare: true,
  ...originOnly(60_000),
};
const KEY = 'a.test /pages/home http';
const request = { method: 'GET', url: '/pages/home', headers: { host: 'a.test' } };

const answer = (body: string, maxAge: number) =>
  new StoredAnswer(
    KEY,
    policyOf(request, 200, ['Cache-Control', `max-age=${maxAge}`]),
    200,
    'OK',
    Buffer.from(body),
    config,
  );

/** Two workers' caches of one route on one folder. */
function workers(): [AnswerCache, AnswerCache] {
  const dir = tempDir('candor-meanwhile-');
  return [new AnswerCache(config, 'pages', dir), new AnswerCache(config, 'pages', dir)];
}

test("a fresh answer another worker wrote after this one's look is found, not fetched again", async () => {
  const [first, second] = workers();
  assert.equal(await storedMeanwhile(second, second.disk!, KEY, request), false, 'nothing stored yet');
  await first.disk!.write(answer('v1', 600));
  assert.equal(await storedMeanwhile(second, second.disk!, KEY, request), true);
  assert.equal(second.get(KEY)?.body.toString(), 'v1', 'read into this worker');
});

test('a stale answer written meanwhile is no reason not to fetch; a worker holding a stale one keeps it while the folder has no fresher', async () => {
  const [first, second] = workers();
  await first.disk!.write(answer('stale', 0));
  assert.equal(await storedMeanwhile(second, second.disk!, KEY, request), false, 'stale: fetched');
  // Held, and the folder's copy as stale: the fetch is its revalidation, and the copy held (whose
  // validators it sends, and which its 304 updates) is not replaced by the same answer read again.
  const held = second.get(KEY);
  assert.ok(held !== undefined, 'held');
  assert.equal(await storedMeanwhile(second, second.disk!, KEY, request), false);
  assert.equal(second.get(KEY), held, 'the copy held, not one read again');
});

test("a worker holding a stale answer finds the fresh one another worker's revalidation stored meanwhile, not fetched again", async () => {
  // Both workers held the stale answer; the first revalidated it (a 304 tells no other worker of
  // it, a 200's news may still be on its way) and let go of the lock just before the second took it.
  const [first, second] = workers();
  await first.disk!.write(answer('stale', 0));
  assert.equal(await storedMeanwhile(second, second.disk!, KEY, request), false);
  await first.disk!.write(answer('revalidated', 600));
  assert.equal(await storedMeanwhile(second, second.disk!, KEY, request), true);
  assert.equal(second.get(KEY)?.body.toString(), 'revalidated', 'read into this worker');
});

test('a fresh answer this worker was told of while it took the lock is the answer, not fetched again', async () => {
  const [, second] = workers();
  // Another worker's fetch ended and its news (cache-stored) read the file in here meanwhile.
  second.set(answer('told', 600), true);
  assert.equal(await storedMeanwhile(second, second.disk!, KEY, request), true);
});

test('a request that asks the upstream itself (no-cache, max-age=0) reads no file: nothing there could answer it', async () => {
  // A browser's reload sends one of them: the answer held (fresh or stale) and the folder's copy
  // alike are refused, so a read is a whole body off the disk for nothing, at every reload.
  const dir = tempDir('candor-meanwhile-');
  let reads = 0;
  const tell = { writeFailed() {}, notUsed() {}, counted: () => void reads++ };
  const cache = new AnswerCache(config, 'pages', dir, tell);
  cache.set(answer('held', 600), true);
  // What is in the folder is not an answer: a read of it is counted (`unread`).
  writeFileSync(cache.disk!.fileOf(KEY), 'not an answer');
  for (const cc of ['no-cache', 'max-age=0']) {
    const asking = { ...request, headers: { ...request.headers, 'cache-control': cc } };
    assert.equal(await storedMeanwhile(cache, cache.disk!, KEY, asking), false, cc);
  }
  assert.equal(reads, 0, 'the folder was read');
  // A plain request holding a stale answer does read it (another worker may have revalidated it).
  cache.set(answer('stale', 0), true);
  assert.equal(await storedMeanwhile(cache, cache.disk!, KEY, request), false);
  assert.equal(reads, 1);
});
