import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
    const dir = mkdtempSync(join(memoryBacked(), 'candor-cache-'));
    return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch {
    return undefined;
  }
}

/** A worker's: the folder its primary made for every worker's caches, if it made one. */
export function workersStoreDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env[WORKERS_STORE_ENV];
  return dir === undefined || dir === '' ? undefined : dir;
}
