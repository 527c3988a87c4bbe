/**
 * The key's lock the workers sharing a cache folder take to fetch it once (fill-lock.ts): held
 * by one at a time, let go once the answer's write is over, taken over from a process gone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { FillLocks, type LockedStore } from '../../../src/proxy/cache/fill-lock.ts';
import { ownerToken } from '../../../src/proxy/cache/store-owner.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

/** A folder of the test's own, removed after it (the suite ran this file's hundreds of times). */
function testDir(t: TestContext, prefix: string): string {
  const dir = tempDir(prefix);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function storeIn(dir: string, writes: Promise<void> = Promise.resolve()): LockedStore {
  return { fileOf: (key) => join(dir, key), writesOf: () => writes, noted: () => {} };
}

test('one lock a key: the second taker finds it held until the first lets go, once its writes are over', async (t) => {
  const dir = testDir(t, 'candor-fill-lock-');
  let written = () => {};
  const writes = new Promise<void>((resolve) => {
    written = resolve;
  });
  const first = new FillLocks(storeIn(dir, writes));
  const second = new FillLocks(storeIn(dir));
  assert.equal(await first.take('a', 60_000), 'taken');
  assert.equal(await second.take('a', 60_000), 'held');
  assert.equal(await second.take('b', 60_000), 'taken', 'another key, another lock');
  first.release('a');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(existsSync(join(dir, 'a.lock')), true, 'kept while the answer is written');
  const released = second.released('a', Date.now() + 5000, () => false);
  written();
  assert.equal(await released, true);
  assert.equal(await second.take('a', 60_000), 'taken');
});

test('a wait for a lock ends at its bound, or when the request waiting leaves', async (t) => {
  const dir = testDir(t, 'candor-fill-lock-');
  const locks = new FillLocks(storeIn(dir));
  assert.equal(await locks.take('a', 60_000), 'taken');
  assert.equal(await locks.released('a', Date.now() + 60, () => false), false);
  assert.equal(await locks.released('a', Date.now() + 60_000, () => true), false);
});

test('a lock whose owner is gone (killed mid-fetch) is taken over; one /proc cannot judge is not, while young', async (t) => {
  const token = ownerToken();
  if (token === undefined) return t.skip('no /proc here');
  const dir = testDir(t, 'candor-fill-lock-');
  const locks = new FillLocks(storeIn(dir));
  // The same start time and namespaces, a pid no process has (Linux's pid_max is at most 2^22).
  writeFileSync(join(dir, 'a.lock'), token.replace(/^\d+/, String(2 ** 22 + 1)));
  assert.equal(await locks.take('a', 60_000), 'taken');
  writeFileSync(join(dir, 'b.lock'), 'written by a system without /proc');
  assert.equal(await locks.take('b', 60_000), 'held');
  // Older than the taker's lock_timeout (past which nobody waits for it): taken over.
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(await locks.take('b', 20), 'taken');
});

test('a release removes its own lock, not one a later taker took over from it; a failure is written for those waiting', async (t) => {
  const dir = testDir(t, 'candor-fill-lock-');
  const slow = new FillLocks(storeIn(dir));
  const later = new FillLocks(storeIn(dir));
  assert.equal(await slow.take('a', 60_000), 'taken');
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(await later.take('a', 20), 'taken', 'taken over past its lock_timeout');
  const since = Date.now();
  slow.release('a', 'its failure');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(existsSync(join(dir, 'a.lock')), true, "the later taker's lock stays");
  assert.equal(await later.endedSince('a', since), 'its failure');
  assert.equal(
    await later.endedSince('a', Date.now() + 1000),
    undefined,
    'a failure of before the wait is not its',
  );
  later.release('a');
  assert.equal(await later.released('a', Date.now() + 5000, () => false), true);
  assert.deepEqual(readdirSync(dir).sort(), ['a.ended'], 'no lock and no file of the making left');
});

test('a folder too full for a lock: each fetches alone, and nothing is left that would make the next miss wait', async (t) => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0)
    return t.skip('needs a tmpfs mount (root on Linux)');
  const dir = tempDir('candor-fill-lock-full-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', dir]);
  } catch {
    return t.skip('tmpfs cannot be mounted here');
  }
  try {
    // The one page of the file system taken: a file can be made, not written.
    writeFileSync(join(dir, 'filler'), Buffer.alloc(4096));
    const locks = new FillLocks(storeIn(dir));
    assert.equal(await locks.take('a', 60_000), 'none');
    assert.deepEqual(readdirSync(dir), ['filler']);
  } finally {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('where no lock can be made (the folder gone), each fetches alone', async (t) => {
  const dir = join(testDir(t, 'candor-fill-lock-'), 'gone');
  assert.equal(await new FillLocks(storeIn(dir)).take('a', 60_000), 'none');
});

test("a worker's next fetch of a key waits for its last one's lock to go (its answer still being written), not as another's", async (t) => {
  const dir = testDir(t, 'candor-fill-lock-');
  let written = () => {};
  const writes = new Promise<void>((resolve) => {
    written = resolve;
  });
  const locks = new FillLocks(storeIn(dir, writes));
  assert.equal(await locks.take('a', 60_000), 'taken');
  locks.release('a');
  const next = locks.take('a', 60_000);
  setTimeout(written, 50);
  assert.equal(await next, 'taken');
});

test('a directory where a lock or a takeover marker would be is out of the way as any file no lock of ours is', async (t) => {
  const token = ownerToken();
  if (token === undefined) return t.skip('no /proc here');
  const dir = testDir(t, 'candor-fill-lock-');
  const locks = new FillLocks(storeIn(dir));
  mkdirSync(join(dir, 'a.lock'));
  assert.equal(await locks.take('a', 60_000), 'taken');
  // A taker killed between its marker's link and its unlink: the marker goes as its dead lock does.
  const dead = token.replace(/^\d+/, String(2 ** 22 + 1));
  writeFileSync(join(dir, 'b.lock'), dead);
  writeFileSync(join(dir, 'b.lock.takeover'), dead);
  assert.equal(await locks.take('b', 60_000), 'taken');
  assert.equal(existsSync(join(dir, 'b.lock.takeover')), false);
  writeFileSync(join(dir, 'c.lock'), dead);
  mkdirSync(join(dir, 'c.lock.takeover'));
  assert.equal(await locks.take('c', 60_000), 'taken');
});
