/**
 * cache.dir: a purge empties the directory without holding the worker's event loop (an admin
 * purge of a hundred thousand answers stopped every request of the worker for the while), and a
 * read of a key it covers, asked while it runs, is a miss at once: the old file is never found.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { DiskStore } from '../../../src/proxy/cache/disk-store.ts';
import { originOnly } from '../../../src/proxy/cache/freshness.ts';
import { policyOf, StoredAnswer } from '../../../src/proxy/cache/stored-answer.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const PAGES = 200;

function answer(key: string, body: string): StoredAnswer {
  const [host, url] = key.split(' ');
  const policy = policyOf({ method: 'GET', url, headers: { host } }, 200, ['Cache-Control', 'max-age=60']);
  return new StoredAnswer(key, policy, 200, 'OK', Buffer.from(body), originOnly(60_000));
}

async function filled(): Promise<DiskStore> {
  const dir = tempDir('candor-cache-');
  const store = new DiskStore(dir, 'pages', 1 << 24, 1 << 20, originOnly(60_000));
  for (let n = 0; n < PAGES; n++) await store.write(answer(`a.test /pages/${n} http`, `page ${n}`));
  return store;
}

for (const [what, prefix, removed] of [
  ['every answer', undefined, PAGES],
  ['a prefix', 'a.test /pages/1', 111],
] as const) {
  test(`a purge of ${what} lets the event loop turn while it runs, and counts what it removed`, async () => {
    const store = await filled();
    let turns = 0;
    let over = false;
    const turn = () => {
      turns++;
      if (!over) setImmediate(turn);
    };
    setImmediate(turn);
    let purged = false;
    const purge = store.purge(prefix).finally(() => {
      purged = true;
    });
    // Asked while the purge runs: a miss at once (the request goes upstream), not a wait for
    // the whole directory, and never the old file.
    assert.equal(await store.read('a.test /pages/1 http'), undefined);
    assert.equal(purged, false, 'the read did not wait for the purge');
    const files = await purge;
    over = true;
    assert.equal(files.size, removed);
    assert.ok(turns > 0, 'other work ran while the purge did');
    assert.equal(existsSync(store.fileOf('a.test /pages/1 http')), false);
    assert.equal(existsSync(store.fileOf('a.test /pages/2 http')), prefix !== undefined);
  });
}

test('a FIFO named as a stored answer in the directory: a purge by prefix passes it by, never waiting on it', async () => {
  const store = await filled();
  // A FIFO opened for reading without blocking waits for no writer (it held the worker for ever).
  const fifo = join(dirname(store.fileOf('a.test /pages/1 http')), 'f'.repeat(64));
  execFileSync('mkfifo', [fifo]);
  const files = await store.purge('a.test /pages/1');
  assert.equal(files.size, 111);
  assert.ok(existsSync(fifo), 'not one of ours: left');
});
