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
  'timeouts',
] as const;

/**
 * Not given to a route that forwards nothing (a redirect, static files): the route checks refuse
 * them there, and a default is for the routes that can take it.
 */
const FORWARDING_ONLY: ReadonlySet<string> = new Set(['request_headers', 'cache', 'compression', 'timeouts']);
/** A redirect answers before its admit policies: a rate limit would do nothing there (a warning). */
const NOT_ON_REDIRECT: ReadonlySet<string> = new Set([...FORWARDING_ONLY, 'rate_limit']);

/**
 * Taken key by key: a route's own `timeouts` keeps the default's keys it does not write (as
 * nginx's `proxy_read_timeout` in a `location` keeps the server's `proxy_connect_timeout`: each
 * timeout is a setting of its own, and a route's timeouts already lie over its upstream's key by
 * key). Every other field is taken whole (a set of rules, or settings read together).
 */
const PER_KEY = 'timeouts';

/** Route index → the default fields it took, in DEFAULTABLE_FIELDS' order (`timeouts.connect`: one key of a per-key field). */
export type DefaultsTaken = ReadonlyMap<number, readonly string[]>;

/**
 * Gives each route of `document` the defaults it does not set itself (a route's own field wins
 * whole: its `response_headers` replaces the default's, rules are not merged; `timeouts` key by
 * key), in place.
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
      if (!(field in defaults) || skip?.has(field)) continue;
      if (field in route) {
        if (field === PER_KEY) fields.push(...takeKeys(route, defaults, field));
        continue;
      }
      route[field] = defaults[field];
      fields.push(field);
    }
    if (fields.length > 0) taken.set(index, fields);
  }
  return taken;
}

/** The keys of `defaults[field]` a route's own mapping does not write, given to it; their names as `field.key`. */
function takeKeys(
  route: Record<string, unknown>,
  defaults: Record<string, unknown>,
  field: string,
): string[] {
  const own = route[field];
  const fallback = defaults[field];
  if (!isMapping(own) || !isMapping(fallback)) return [];
  const keys = Object.keys(fallback).filter((key) => !(key in own));
  for (const key of keys) own[key] = fallback[key];
  return keys.map((key) => `${field}.${key}`);
}

/**
 * Where a problem at `path` is written: a field a route took from `route_defaults` is written
 * there (`routes[2].cors.origins` → `route_defaults.cors.origins`), anything else where it is.
 */
export function writtenAt(taken: DefaultsTaken, path: readonly PathSegment[]): readonly PathSegment[] {
  if (path[0] !== 'routes' || typeof path[1] !== 'number' || path.length < 3) return path;
  const fields = taken.get(path[1]);
  if (fields === undefined) return path;
  if (!fields.includes(String(path[2])) && !fields.includes(`${String(path[2])}.${String(path[3])}`))
    return path;
  return ['route_defaults', ...path.slice(2)];
}
