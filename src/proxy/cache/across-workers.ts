import type { StageRequest } from '../stages/stage.ts';
import type { AnswerCache } from './answer-cache.ts';
import type { DiskStore } from './disk-store.ts';
import { followFillFile } from './fill-file.ts';
import { asksUpstream } from './freshness.ts';
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
 * Whether another worker stored a fresh answer of the key after this one looked (in memory, then
 * in the shared folder where memory had nothing) and before it took the key's lock: that worker's
 * fetch ended between the two (its lock gone), so the lock was free, and this one would fetch
 * again what was just stored (seen under load: two fetches upstream of one key, the second
 * worker's request right after the first's answer). Where nothing was stored at the look, the
 * folder is read again once; a fresh answer held in memory now came meanwhile too (the other
 * worker's news of it, `cache-stored`, read in while the lock was taken: a third fetch of a killed
 * worker's key, one run in three of 80 keys). Where a stale answer is held, the folder is read
 * again too: another worker's revalidation of it may have ended meanwhile, and a 304's tells no
 * other worker (a 200's news may still be on its way), so each worker holding the stale copy
 * revalidated it once more itself (19 to 28 keys of 60 held by two workers, a burst after expiry).
 */
export async function storedMeanwhile(
  cache: AnswerCache,
  disk: DiskStore,
  key: string,
  request: CacheRequest,
): Promise<boolean> {
  const held = cache.get(key);
  if (held !== undefined)
    // One asking the upstream itself (no-cache, max-age=0: a browser's reload) takes no stored
    // answer, the folder's no more than the one held: not read, a whole body for nothing.
    return (
      held.reuse(request) === 'fresh' || (!asksUpstream(request) && freshInFolder(cache, disk, key, request))
    );
  await readShared(cache, disk, key);
  return cache.get(key)?.reuse(request) === 'fresh';
}

/**
 * Whether the folder holds a fresh answer of the key, read in if so. Only a fresh one replaces the
 * stale copy held: that copy's validators may be on their way upstream, and its 304 updates the
 * copy held (AnswerCache.revalidated), not the same answer read in again.
 */
async function freshInFolder(
  cache: AnswerCache,
  disk: DiskStore,
  key: string,
  request: CacheRequest,
): Promise<boolean> {
  // A purge or an invalidation while the file is read: what it read is of before it (set refuses it).
  const since = performance.now();
  const found = await disk.read(key).catch(() => undefined);
  return found?.reuse(request) === 'fresh' && cache.set(found, true, since);
}

/**
 * The key's background refresh (stale-while-revalidate) starts here, made by a request of the
 * gateway's own from `request`, the key's fetch meanwhile (its others get the stale answer too);
 * once for the workers sharing a disk (fill-lock.ts): those finding its lock wait for it and read
 * what it brought, their stale answer given meanwhile. A `fill` (a Range's whole answer) starts
 * the same way; the requests waiting on it learn how it failed (refresh-exchange.ts's failedFetch),
 * and follow another worker's as it streams in (fill-file.ts). Its lock had, what another worker
 * stored meanwhile (storedMeanwhile, for `asked`: the request deciding it) is the answer, no fetch.
 */
export function refreshOnce(
  route: CachedRoute,
  request: StageRequest,
  key: string,
  asked: CacheRequest,
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
      // Another worker's refresh ended between this one's look and its lock (a 304's tells no other worker).
      if (taken === 'taken' && (await storedMeanwhile(cache, disk, key, asked))) return done();
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
