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

/**
 * A written name another route with the same kept part holds is refused at the second; a route
 * left unnamed is renamed instead (renamedDefaults), with a warning that says to what.
 */
export function checkRouteNames(routes: unknown, report: Report, warn: Report): void {
  const renamed = renamedDefaults(routes);
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
      const rename = renamed.get(index);
      if (rename !== undefined) {
        warn(
          ['routes', index, field],
          `route name '${name}' (a route without a name is named <host><path>) is routes[${before}]'s too, and both have ${what}, which the gateway keeps by the route's name: this route is named '${rename}' so that it has its own; give it a name to choose another`,
          'key',
        );
        continue;
      }
      report(
        ['routes', index, 'name'],
        `route name '${name}' is routes[${before}]'s too, and both have ${what}: the gateway keeps it by the route's name, so ${why}; give each its own name`,
        'key',
      );
    }
  }
  warnOtherUpstreams(routes, renamed, warn);
}

/**
 * Two routes of one name (as loaded: a renamed default has its own) that send to different
 * upstreams: the admin API's status keeps one route per name, the metrics and the log count
 * by name, and a maintenance set by name holds both; said, not refused (routes told apart by
 * method share their default name as a rule).
 */
function warnOtherUpstreams(routes: unknown, renamed: Map<number, string>, warn: Report): void {
  const first = new Map<string, { index: number; upstream: string }>();
  for (const [index, route] of itemsOf(routes)) {
    const name = renamed.get(index) ?? routeName(route);
    const upstream = stringAt(route, 'upstream');
    if (name === undefined || upstream === undefined) continue;
    const before = first.get(name);
    if (before === undefined) first.set(name, { index, upstream });
    else if (before.upstream !== upstream) {
      const unnamed = route.name === undefined ? ' (a route without a name is named <host><path>)' : '';
      warn(
        ['routes', index, 'upstream'],
        `route name '${name}'${unnamed} is routes[${before.index}]'s too, with another upstream ('${before.upstream}', here '${upstream}'): the admin API's GET /status shows one route of that name (the last), the metrics' route label and the log's route field count the two as one, and PUT /routes/maintenance acts on both; give each its own name`,
      );
    }
  }
}

/**
 * The routes left unnamed whose default `<host><path>` an earlier route holds while both have a
 * part kept by name (routes told apart by method share it: `POST /api` beside `/api`, each with
 * its own rate_limit), by index: each is named `<host><path>#<index>` instead (made unique
 * against every other name), so it keeps its own split, buckets, store and count. Before this,
 * such a config loaded and the two shared them; refusing it would refuse a config people write.
 */
export function renamedDefaults(routes: unknown): Map<number, string> {
  const renamed = new Map<number, string>();
  const taken = new Set<string>();
  for (const [, route] of itemsOf(routes)) {
    const name = routeName(route);
    if (name !== undefined) taken.add(name);
  }
  for (const { has } of KEPT_BY_NAME) {
    const first = new Set<string>();
    for (const [index, route] of itemsOf(routes)) {
      if (has(route) === undefined) continue;
      const name = renamed.get(index) ?? routeName(route);
      if (name === undefined) continue;
      if (!first.has(name) || route.name !== undefined || renamed.has(index)) {
        first.add(name);
        continue;
      }
      let rename = `${name}#${index}`;
      while (taken.has(rename)) rename += `#${index}`;
      taken.add(rename);
      renamed.set(index, rename);
      first.add(rename);
    }
  }
  return renamed;
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
