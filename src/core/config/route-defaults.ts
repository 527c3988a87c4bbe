/**
 * `route_defaults`: route fields written once for every route that does not write its own
 * (HSTS in `response_headers` on every answer, one `cors`, one `compression`), as nginx's
 * `add_header` at server level. They are given to the routes in the document itself, before
 * any check, so a route that took one is checked and built exactly as if it had written it;
 * a problem found in a taken field is told once, at `route_defaults.<field>`, where it is written.
 */

import { isMapping, itemsOf } from './raw-access.ts';
import type { PathSegment } from './schema.ts';

/** The route fields `route_defaults` may hold (docs/configuration.md "Defaults and includes"). */
export const DEFAULTABLE_FIELDS = [
  'request_headers',
  'response_headers',
  'compression',
  'cache',
  'cors',
  'limits',
  'rate_limit',
] as const;

/**
 * Not given to a route that forwards nothing (a redirect, static files): the route checks refuse
 * them there, and a default is for the routes that can take it.
 */
const FORWARDING_ONLY: ReadonlySet<string> = new Set(['request_headers', 'cache', 'compression']);
/** A redirect answers before its admit policies: a rate limit would do nothing there (a warning). */
const NOT_ON_REDIRECT: ReadonlySet<string> = new Set([...FORWARDING_ONLY, 'rate_limit']);

/** Route index → the default fields it took, in DEFAULTABLE_FIELDS' order. */
export type DefaultsTaken = ReadonlyMap<number, readonly string[]>;

/**
 * Gives each route of `document` the defaults it does not set itself (a route's own field wins
 * whole: its `response_headers` replaces the default's, rules are not merged), in place.
 */
export function applyRouteDefaults(document: unknown): DefaultsTaken {
  const taken = new Map<number, string[]>();
  if (!isMapping(document)) return taken;
  const defaults = document.route_defaults;
  if (!isMapping(defaults)) return taken;
  for (const [index, route] of itemsOf(document.routes)) {
    const skip =
      route.redirect !== undefined
        ? NOT_ON_REDIRECT
        : route.static !== undefined
          ? FORWARDING_ONLY
          : undefined;
    const fields: string[] = [];
    for (const field of DEFAULTABLE_FIELDS) {
      if (!(field in defaults) || field in route || skip?.has(field)) continue;
      route[field] = defaults[field];
      fields.push(field);
    }
    if (fields.length > 0) taken.set(index, fields);
  }
  return taken;
}

/**
 * Where a problem at `path` is written: a field a route took from `route_defaults` is written
 * there (`routes[2].cors.origins` → `route_defaults.cors.origins`), anything else where it is.
 */
export function writtenAt(taken: DefaultsTaken, path: readonly PathSegment[]): readonly PathSegment[] {
  if (path[0] !== 'routes' || typeof path[1] !== 'number' || path.length < 3) return path;
  const fields = taken.get(path[1]);
  if (fields === undefined || !fields.includes(String(path[2]))) return path;
  return ['route_defaults', ...path.slice(2)];
}
