/**
 * How the primary counts a purge across workers (purge-tally.ts): exact when every worker named
 * what it dropped, a range when one dropped more than it names (no list of tens of thousands
 * over IPC). The real workers' count is pinned in test/server/admin/cache-purge-workers.test.ts.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import { test } from 'node:test';
import { DiskStore } from '../../../src/proxy/cache/disk-store.ts';
import { originOnly } from '../../../src/proxy/cache/freshness.ts';
import { mergePurged } from '../../../src/proxy/cache/purge-merge.ts';
import { entryName, PURGE_IDS_MAX, PurgeTally } from '../../../src/proxy/cache/purge-tally.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const named = (...keys: string[]) => {
  const tally = new PurgeTally();
  for (const key of keys) tally.add(entryName('pages', key));
  return tally;
};

test('answers named by every worker are counted once each, however many workers held them', () => {
  const a = named('h /a http', 'h /b http');
  const b = named('h /b http', 'h /c http');
  assert.deepEqual(
    mergePurged([
      { removed: 2, ids: a.ids },
      { removed: 2, ids: b.ids },
    ]),
    { removed: 3 },
  );
  assert.deepEqual(mergePurged([]), { removed: 0 });
});

test('a worker that dropped more than PURGE_IDS_MAX names none: the count is the range it can be', () => {
  const many = new PurgeTally();
  for (let i = 0; i <= PURGE_IDS_MAX; i++) many.add(entryName('pages', `h /${i} http`));
  assert.equal(many.ids, undefined);
  const few = named('h /x http');
  const removed = PURGE_IDS_MAX + 1;
  // At least the largest worker's count (or the ids named, if more); at most the counts added.
  assert.deepEqual(mergePurged([{ removed }, { removed: 1, ids: few.ids }]), {
    removed,
    removedAtMost: removed + 1,
  });
  // One worker alone: its count is exact.
  assert.deepEqual(mergePurged([{ removed }]), { removed });
});

test("a file's name is its entry's name: the shared directory's copy and a worker's are one id", () => {
  const dir = tempDir('candor-purge-tally-');
  try {
    const disk = new DiskStore(dir, 'pages', 1 << 20, 1 << 16, originOnly(0));
    assert.equal(basename(disk.fileOf('h /a http')), entryName('pages', 'h /a http'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
