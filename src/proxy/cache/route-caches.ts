import type { CacheConfig, RouteConfig } from '../../core/config/types.ts';
import { AnswerCache } from './answer-cache.ts';
import type { DiskTell } from './disk-failures.ts';
import { workersStoreDir } from './workers-store.ts';

/**
 * Each caching route's store, by route name. A reload keeps a route's stored answers when the
 * route keeps its name and its cache settings (as it keeps an upstream's pools); a route whose
 * cache changed starts empty, and one no longer named lets its answers go. A route without a
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
