import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownedPrefix, ownerGone, ownerOf, STORE_PREFIX } from './store-owner.ts';

// node:fs through process.getBuiltinModule, not an import: the primary makes the folder, and
// imported as an ES module node:fs loads fs/promises and readline as well, about 1 MiB of the
// primary's memory (pid-file.ts, test/server/cli/lean-processes.test.ts).
const { lstatSync, mkdtempSync, readdirSync, rmSync, statSync } = process.getBuiltinModule('node:fs');

/**
 * One cache for every worker. A route's cache is the gateway's, not a worker's: with `--workers N`
 * and no `cache.dir`, the primary makes a private folder every worker it forks is told of (in
 * this environment variable), and each route's cache keeps its answers there too, as it does in a
 * `cache.dir` (disk-store.ts): a stored answer is found by every worker, and a stale one stands
 * in for a failed upstream whichever worker takes the request. Without it, each worker kept its
 * own: with two workers, a client whose request came to the worker that had never stored the page
 * got the 502 the stale page was there to spare it.
 */
export const WORKERS_STORE_ENV = 'CANDOR_WORKERS_CACHE';

/**
 * Where the folder is made: in memory where the system has a memory file system (Linux's
 * /dev/shm, a tmpfs: what a worker's own cache held in memory is not written to a disk, and goes
 * with a reboot), else in the temporary folder.
 */
function memoryBacked(): string {
  try {
    if (statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    // No /dev/shm (macOS, a container without it): the temporary folder.
  }
  return tmpdir();
}

/**
 * The primary's: makes the workers' folder (owner-only, `0700`: the answers are its clients'),
 * and returns it with the way to remove it when the gateway stops; undefined when it cannot be
 * made, each worker then keeping its own cache, as before (said by the caller).
 */
export function makeWorkersStore(): { dir: string; remove: () => void } | undefined {
  try {
    // Its owner in its name (store-owner.ts): a later primary removes it if this one is killed.
    const dir = mkdtempSync(join(memoryBacked(), ownedPrefix()));
    return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch {
    return undefined;
  }
}

/** A folder of a gateway gone, removed: where it was, and the pid of the primary that made it. */
export interface LeftoverStore {
  readonly dir: string;
  readonly pid: number;
}

/**
 * The primary's, at its start: removes the workers' folders that primaries killed before they
 * could remove their own left (SIGKILL, the OOM killer), one by one as a crash loop would pile
 * them up. Only a folder of Candor's name with its owner in it, a directory (no link) of this
 * user's (so its owner ran as this user, whose processes /proc shows whatever its `hidepid`), and
 * whose owner is certainly not running (store-owner.ts): never a live gateway's, another user's,
 * nor one made by a Candor that wrote no owner. `parent`: where folders are made (the tests' own).
 */
export function removeLeftoverStores(parent: string = memoryBacked()): LeftoverStore[] {
  let names: string[];
  try {
    names = readdirSync(parent).filter((name) => name.startsWith(STORE_PREFIX));
  } catch {
    return [];
  }
  const removed: LeftoverStore[] = [];
  for (const name of names) {
    const owner = ownerOf(name);
    if (owner === undefined) continue;
    const dir = join(parent, name);
    try {
      const facts = lstatSync(dir);
      if (!facts.isDirectory() || facts.uid !== process.getuid?.() || !ownerGone(owner)) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push({ dir, pid: owner.pid });
    } catch {
      // Gone meanwhile (another primary starting swept it), or not ours to remove: left.
    }
  }
  return removed;
}

/** A worker's: the folder its primary made for every worker's caches, if it made one. */
export function workersStoreDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env[WORKERS_STORE_ENV];
  return dir === undefined || dir === '' ? undefined : dir;
}
