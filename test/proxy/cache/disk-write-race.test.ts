/**
 * cache.dir: a removal (an unsafe request's invalidation, in any worker) or a purge that comes
 * while an answer's write is under way cancels that write: its rename would bring the answer
 * back on disk, purged in memory, for every worker and after a restart.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DiskStore } from '../../../src/proxy/cache/disk-store.ts';
import { originOnly } from '../../../src/proxy/cache/freshness.ts';
import { policyOf, StoredAnswer } from '../../../src/proxy/cache/stored-answer.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const KEY = 'a.test /pages/a http';
const LATER = 'b.test /pages/b http';

function answer(key: string, body: string): StoredAnswer {
  const [host, url] = key.split(' ');
  const policy = policyOf({ method: 'GET', url, headers: { host } }, 200, ['Cache-Control', 'max-age=60']);
  return new StoredAnswer(key, policy, 200, 'OK', Buffer.from(body), originOnly(60_000));
}

for (const [what, drop] of [
  ["the key's removal", (store: DiskStore) => store.remove(KEY)],
  [
    "the key's removal in the background (another worker's invalidation)",
    (store: DiskStore) => store.removeLater(KEY),
  ],
  ['a purge of its prefix', (store: DiskStore) => store.purge('a.test /pages')],
  ['a purge of every answer', (store: DiskStore) => store.purge()],
] as const) {
  test(`${what} while the answer's write is under way: no file of it is left, a later write's is`, async () => {
    const dir = tempDir('candor-cache-');
    const store = new DiskStore(dir, 'pages', 1 << 20, 1 << 20, originOnly(60_000));
    void store.write(answer(KEY, 'the page before the purge'));
    const dropped = drop(store);
    void store.write(answer(LATER, 'another page'));
    const names = () => readdirSync(join(dir, 'pages'));
    await waitUntil(
      'both writes over',
      () => existsSync(store.fileOf(LATER)) && !names().some((n) => n.endsWith('.tmp')),
    );
    // A purge's sweep may list the directory after the later write is in place: it leaves it.
    await dropped;
    assert.equal(existsSync(store.fileOf(KEY)), false, 'the purged answer is not on disk');
    assert.equal(existsSync(store.fileOf(LATER)), true, 'the answer stored after is on disk');
    assert.equal(await store.read(KEY), undefined);
    assert.equal((await store.read(LATER))?.body.toString(), 'another page');
  });
}

test("a read of a key asked after its removal in the background never finds the old file, whatever the disk's pace", async () => {
  const dir = tempDir('candor-cache-');
  const store = new DiskStore(dir, 'pages', 1 << 20, 1 << 20, originOnly(60_000));
  await store.write(answer(KEY, 'the page before the invalidation'));
  assert.equal((await store.read(KEY))?.body.toString(), 'the page before the invalidation');
  store.removeLater(KEY);
  assert.equal(await store.read(KEY), undefined);
  assert.equal(existsSync(store.fileOf(KEY)), false);
});

test("a read right after the key's removal never finds the answer a write under way was renaming: it waits for that write to remove it", async () => {
  const dir = tempDir('candor-cache-');
  const store = new DiskStore(dir, 'pages', 1 << 30, 1 << 20, originOnly(60_000));
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  // The removal comes at every point of the write (0 to 19 turns of the loop after it began):
  // before its file is written, while it is renamed, after. Whichever, the read finds nothing.
  const found: number[] = [];
  for (let i = 0; i < 400; i++) {
    const write = store.write(answer(KEY, 'the page before the invalidation'));
    for (let n = 0; n < i % 20; n++) await turn();
    store.remove(KEY);
    if ((await store.read(KEY)) !== undefined) found.push(i);
    await write;
  }
  assert.deepEqual(found, [], 'reads that found the removed answer');
  assert.equal(existsSync(store.fileOf(KEY)), false);
});

test('answers stored while a purge sweeps the directory stay: it removes what was stored before it', async () => {
  const dir = tempDir('candor-cache-');
  const store = new DiskStore(dir, 'pages', 1 << 30, 1 << 20, originOnly(60_000));
  const keys = Array.from({ length: 1000 }, (_, i) => `a.test /pages/${i} http`);
  for (const key of keys) await store.write(answer(key, 'before the purge'));
  const purged = store.purge();
  // Twenty of them stored again while the sweep goes through a thousand files, batch by batch.
  const again = keys.filter((_, i) => i % 50 === 0);
  await Promise.all(again.map((key) => store.write(answer(key, 'after the purge'))));
  await purged;
  const left = readdirSync(join(dir, 'pages')).length;
  assert.equal(left, again.length, 'files left: the answers stored after the purge began');
  for (const key of again) assert.equal((await store.read(key))?.body.toString(), 'after the purge');
});
