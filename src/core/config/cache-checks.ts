import { DEFAULTS } from './defaults.ts';
import { itemsOf, mappingAt } from './raw-access.ts';
import type { Report } from './report.ts';
import { formatSize, parseSize } from './units.ts';

/**
 * A route's cache whose sizes could not do what they say: an answer past `max_size` is never
 * kept, so a `max_entry` above it promises answers the memory cannot hold; `max_disk` bounds the
 * files of `dir`, and without one it bounds nothing; `override_origin` overrides with `lifetimes`,
 * and without them with nothing.
 */
export function checkCaches(routes: unknown, report: Report): void {
  for (const [index, route] of itemsOf(routes)) {
    const cache = mappingAt(route, 'cache');
    if (cache === undefined) continue;
    const at = (field: string) => ['routes', index, 'cache', field];
    if (cache.max_disk !== undefined && cache.dir === undefined)
      report(at('max_disk'), 'max_disk bounds the files of cache.dir: expected a dir beside it');
    if (cache.workers_share === false && cache.dir !== undefined)
      report(
        at('workers_share'),
        'the workers share the answers of cache.dir whatever this says: expected no dir beside workers_share: false',
      );
    if (cache.override_origin === true && cache.lifetimes === undefined)
      report(
        at('override_origin'),
        "override_origin puts cache.lifetimes in place of the origin's: expected lifetimes beside it",
      );
    // Unwritten, max_entry is its default or max_size, the smaller (normalize.ts).
    if (cache.max_entry === undefined) continue;
    const maxSize = sizeAt(cache.max_size, DEFAULTS.cache.maxSize);
    const maxEntry = sizeAt(cache.max_entry, DEFAULTS.cache.maxEntry);
    if (maxSize === undefined || maxEntry === undefined || maxEntry <= maxSize) continue;
    report(
      at('max_entry'),
      `an answer past max_size (${formatSize(maxSize)}) is never kept: expected a max_entry of at most that, got ${formatSize(maxEntry)}`,
    );
  }
}

/** A size field as written, or its default; undefined when it is not a size (the schema says so). */
function sizeAt(value: unknown, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  return typeof value === 'string' || typeof value === 'number' ? parseSize(value) : undefined;
}
