import type { CacheConfig, RouteConfig } from '../../core/config/types.ts';
import { AnswerCache } from './answer-cache.ts';
import type { DiskTell } from './disk-failures.ts';
import { workersStoreDir } from './workers-store.ts';

/**
 * Each caching route's store, by route name. A reload keeps a route's stored answers when the
 * route keeps its name and its cache settings (as it keeps an upstream's pools); a route whose
 * cache changed starts empty, and one no longer named lets its answers go (releaseReplaced). A route without a
 * `cache.dir` of its own keeps its answers in the folder every worker shares (`workersDir`:
 * workers-store.ts) when the gateway runs several. A write its folder refused goes to `tell`.
 */
export function routeCaches(
  routes: readonly RouteConfig[],
  previous: ReadonlyMap<string, AnswerCache> | undefined,
  tell?: DiskTell,
  workersDir = workersStoreDir(),
): ReadonlyMap<string, AnswerCache> {
  const caches = new Map<string, AnswerCache>();
  for (const route of routes) {
    if (route.cache === undefined) continue;
    const old = previous?.get(route.name);
    caches.set(
      route.name,
      old !== undefined && sameSettings(old.config, route.cache)
        ? old
        : new AnswerCache(route.cache, route.name, route.cache.workersShare ? workersDir : undefined, tell),
    );
  }
  return caches;
}

/**
 * Once the snapshot of `caches` is the gateway's (a reload refused before leaves `previous` as it
 * was): a store not carried over lets its answers go, their files in the workers' folder too.
 * That folder is the gateway's memory, held until it stops: read back, its files were the old
 * store's answers still, through a change of the route's cache settings, and a route a reload
 * removed held its share of `/dev/shm`. A `cache.dir` is the operator's, kept as across a restart.
 * The old store's fetches under way, of requests on the snapshot before, store nothing; the new
 * store of the route is purged too, so that its reads meanwhile are misses.
 */
export function releaseReplaced(
  previous: ReadonlyMap<string, AnswerCache>,
  caches: ReadonlyMap<string, AnswerCache>,
): void {
  for (const [name, old] of previous) {
    const now = caches.get(name);
    if (now === old || !inWorkersFolder(old)) continue;
    emptied(old);
    if (now !== undefined && inWorkersFolder(now)) emptied(now);
  }
}

/** Purged in the background: a file it cannot remove is left to the folder's max_size scan, as any. */
function emptied(cache: AnswerCache): void {
  cache.purge().catch(() => {});
}

/** The store keeps its answers in the folder the workers share (workers-store.ts), not in a `cache.dir`. */
function inWorkersFolder(cache: AnswerCache): boolean {
  return cache.disk !== undefined && cache.config.dir === undefined;
}

function sameSettings(a: CacheConfig, b: CacheConfig): boolean {
  return (
    a.maxSize === b.maxSize &&
    a.maxEntry === b.maxEntry &&
    a.staleIfError === b.staleIfError &&
    a.lockTimeout === b.lockTimeout &&
    a.dir === b.dir &&
    a.maxDisk === b.maxDisk &&
    a.overrideOrigin === b.overrideOrigin &&
    a.workersShare === b.workersShare &&
    a.staleWhileRevalidate === b.staleWhileRevalidate &&
    JSON.stringify(a.lifetimes) === JSON.stringify(b.lifetimes)
  );
}

/** Which stored answers a purge drops: every route's, one route's, or that route's keys starting with `key`. */
export interface PurgeScope {
  readonly route?: string;
  readonly key?: string;
}
