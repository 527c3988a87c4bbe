/**
 * What the gateway keeps of a route by the route's name: its split (and canary), its rate-limit
 * buckets where they are shared (the cluster primary's, store.redis's), its cache store, and,
 * across a reload, its in-flight count. Two routes of one name that both have one of these
 * would share it: one route's requests sent to the other's upstreams, limited at the other's
 * rate, answered from the other's store. A name left out is `<host><path>`, which routes told
 * apart by method or header share.
 */

import { parseRouteHost, parseRoutePath } from './addresses.ts';
import { DEFAULTS } from './defaults.ts';
import { itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report } from './report.ts';

/** Each kept part, what has it, and what sharing it does. */
const KEPT_BY_NAME = [
  {
    what: 'a split or a canary',
    has: (route: Record<string, unknown>) =>
      route.canary !== undefined ? 'canary' : route.split !== undefined ? 'split' : undefined,
    why: 'both would draw from one of the two splits, one route\'s requests going to the other\'s upstreams (and a canary is driven by it: POST /canary/rollback {"route": NAME})',
  },
  {
    what: 'a rate_limit',
    has: (route: Record<string, unknown>) => (route.rate_limit !== undefined ? 'rate_limit' : undefined),
    why: 'with workers or store.redis both would draw from one bucket per client, at one of the two rates',
  },
  {
    what: 'a cache',
    has: (route: Record<string, unknown>) => (route.cache !== undefined ? 'cache' : undefined),
    why: 'both would use one store, with one of the two settings (and a purge names it)',
  },
  {
    what: 'a max_in_flight',
    has: (route: Record<string, unknown>) =>
      route.max_in_flight !== undefined ? 'max_in_flight' : undefined,
    why: 'after a reload both would count against one bound',
  },
] as const;

export function checkRouteNames(routes: unknown, report: Report): void {
  for (const { what, has, why } of KEPT_BY_NAME) {
    const first = new Map<string, number>();
    for (const [index, route] of itemsOf(routes)) {
      const field = has(route);
      const name = field === undefined ? undefined : routeName(route);
      if (field === undefined || name === undefined) continue;
      const before = first.get(name);
      if (before === undefined) {
        first.set(name, index);
        continue;
      }
      const unnamed = route.name === undefined;
      report(
        ['routes', index, unnamed ? field : 'name'],
        `route name '${name}' is routes[${before}]'s too${unnamed ? ' (a route without a name is named <host><path>)' : ''}, and both have ${what}: the gateway keeps it by the route's name, so ${why}; give each its own name`,
        'key',
      );
    }
  }
}

/** The route's name as the loaded config has it (normalize.ts): its own, else `<host><path>`; undefined when a part is no value. */
function routeName(route: Record<string, unknown>): string | undefined {
  if (route.name !== undefined) return stringAt(route, 'name');
  const match = mappingAt(route, 'match');
  const host = stringAt(match, 'host');
  const path = parseRoutePath(stringAt(match, 'path') ?? DEFAULTS.route.path);
  const parsedHost = host === undefined ? { value: '' } : parseRouteHost(host);
  return 'value' in path && 'value' in parsedHost ? `${parsedHost.value}${path.value}` : undefined;
}
