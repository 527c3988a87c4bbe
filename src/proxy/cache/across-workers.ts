import type { StageRequest } from '../stages/stage.ts';
import type { AnswerCache } from './answer-cache.ts';
import type { DiskStore } from './disk-store.ts';
import { followFillFile } from './fill-file.ts';
import type { CachedRoute } from './passing-run.ts';
import { type BackgroundFetch, refreshExchange } from './refresh-exchange.ts';
import type { CacheRequest } from './stored-answer.ts';

/**
 * Reads the key's answer the workers share into memory, unless another request put one there
 * meanwhile; `fetched`: another worker's fetch of it just ended, and what it wrote replaces
 * what this worker held (the stale answer it refreshed or revalidated).
 */
export async function readShared(
  cache: AnswerCache,
  disk: DiskStore,
  key: string,
  fetched = false,
): Promise<void> {
  // A purge or an invalidation while the file is read: what it read is of before it (set refuses it).
  const since = performance.now();
  const found = await disk.read(key).catch(() => undefined);
  if (found !== undefined && (fetched || cache.get(key) === undefined)) cache.set(found, true, since);
}

/**
 * Whether another worker stored a fresh answer of the key after this one looked in the shared
 * folder and found none, and before it took the key's lock: that worker's fetch ended between the
 * two (its lock gone), so the lock was free, and this miss would fetch again what was just stored
 * (seen under load: two fetches upstream of one key, the second worker's request right after the
 * first's answer). Read again once, where nothing was stored at the look; a fresh answer held in
 * memory now came meanwhile too (the other worker's news of it, `cache-stored`, read in while the
 * lock was taken: a third fetch of a killed worker's key, one run in three of 80 keys).
 */
export async function storedMeanwhile(
  cache: AnswerCache,
  disk: DiskStore,
  key: string,
  request: CacheRequest,
): Promise<boolean> {
  // A stale one held at the look: the fetch is its revalidation, not a miss to read again for.
  const held = cache.get(key);
  if (held !== undefined) return held.reuse(request) === 'fresh';
  await readShared(cache, disk, key);
  return cache.get(key)?.reuse(request) === 'fresh';
}

/**
 * The key's background refresh (stale-while-revalidate) starts here, made by a request of the
 * gateway's own from `request`, the key's fetch meanwhile (its others get the stale answer too);
 * once for the workers sharing a disk (fill-lock.ts): those finding its lock wait for it and read
 * what it brought, their stale answer given meanwhile. A `fill` (a Range's whole answer) starts
 * the same way; the requests waiting on it learn how it failed (refresh-exchange.ts's failedFetch),
 * and follow another worker's as it streams in (fill-file.ts).
 */
export function refreshOnce(
  route: CachedRoute,
  request: StageRequest,
  key: string,
  kind: BackgroundFetch = 'refresh',
): void {
  const { cache } = route;
  let done = cache.startFill(key);
  const fill = kind === 'fill' ? cache.fillOf(key) : undefined;
  const { head, record, listener } = request;
  const exchange = refreshExchange(head, record.id, (end) => done(end), record.upstream, kind);
  const disk = cache.disk;
  if (disk === undefined) return route.background(listener, exchange);
  // The request deciding it may end before the lock is had: the fetch holds its snapshot meanwhile.
  const release = route.keepRuntime();
  disk.locks
    .take(key, cache.config.lockTimeout)
    .then(async (taken) => {
      if (taken === 'taken') done = disk.locks.releasing(key, done, () => undefined);
      if (taken !== 'held') return route.background(listener, exchange);
      // A Range's fill: the Ranges here follow the other worker's as it streams in, not once stored.
      const { config } = cache;
      if (fill !== undefined)
        await followFillFile(disk, key, fill, {
          lockTimeout: config.lockTimeout,
          maxEntry: config.maxEntry,
          grants: config,
        });
      await disk.locks.released(key, Date.now() + cache.config.lockTimeout, () => false);
      await readShared(cache, disk, key, true);
      done();
    })
    .catch(() => done())
    .finally(release);
}
