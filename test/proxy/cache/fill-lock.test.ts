/**
 * The key's lock the workers sharing a cache folder take to fetch it once (fill-lock.ts): held
 * by one at a time, let go once the answer's write is over, taken over from a process gone.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FillLocks, type LockedStore } from '../../../src/proxy/cache/fill-lock.ts';
import { ownerToken } from '../../../src/proxy/cache/store-owner.ts';

function storeIn(dir: string, writes: Promise<void> = Promise.resolve()): LockedStore {
  return { fileOf: (key) => join(dir, key), writesOf: () => writes };
}

test('one lock a key: the second taker finds it held until the first lets go, once its writes are over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-fill-lock-'));
  let written = () => {};
  const writes = new Promise<void>((resolve) => {
    written = resolve;
  });
  const first = new FillLocks(storeIn(dir, writes));
  const second = new FillLocks(storeIn(dir));
  assert.equal(await first.take('a'), 'taken');
  assert.equal(await second.take('a'), 'held');
  assert.equal(await second.take('b'), 'taken', 'another key, another lock');
  first.release('a');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(existsSync(join(dir, 'a.lock')), true, 'kept while the answer is written');
  const released = second.released('a', Date.now() + 5000, () => false);
  written();
  assert.equal(await released, true);
  assert.equal(await second.take('a'), 'taken');
});

test('a wait for a lock ends at its bound, or when the request waiting leaves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-fill-lock-'));
  const locks = new FillLocks(storeIn(dir));
  assert.equal(await locks.take('a'), 'taken');
  assert.equal(await locks.released('a', Date.now() + 60, () => false), false);
  assert.equal(await locks.released('a', Date.now() + 60_000, () => true), false);
});

test('a lock whose owner is gone (killed mid-fetch) is taken over; one /proc cannot judge is not, while young', async (t) => {
  const token = ownerToken();
  if (token === undefined) return t.skip('no /proc here');
  const dir = mkdtempSync(join(tmpdir(), 'candor-fill-lock-'));
  const locks = new FillLocks(storeIn(dir));
  // The same start time and namespaces, a pid no process has (Linux's pid_max is at most 2^22).
  writeFileSync(join(dir, 'a.lock'), token.replace(/^\d+/, String(2 ** 22 + 1)));
  assert.equal(await locks.take('a'), 'taken');
  writeFileSync(join(dir, 'b.lock'), 'written by a system without /proc');
  assert.equal(await locks.take('b'), 'held');
});

test('where no lock can be made (the folder gone), each fetches alone', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'candor-fill-lock-')), 'gone');
  assert.equal(await new FillLocks(storeIn(dir)).take('a'), 'none');
});
