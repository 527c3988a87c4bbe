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

/**
 * Route index → the default fields it took, in DEFAULTABLE_FIELDS' order (`timeouts.connect`: one
 * key of a per-key field), and those it turned off with `false`, as `no cache (cache: false)`.
 */
export type DefaultsTaken = ReadonlyMap<number, readonly string[]>;

/** How `candor check` lists a default a route turned off (`cache: false`): among the fields it took. */
export function turnedOff(field: string): string {
  return `no ${field} (${field}: false)`;
}

/** A `field: false` on a route that had no default to turn off: it does nothing (a warning, load.ts tells it). */
export interface IdleOff {
  readonly index: number;
  readonly field: string;
  readonly message: string;
}

/**
 * Gives each route of `document` the defaults it does not set itself (a route's own field wins
 * whole: its `response_headers` replaces the default's, rules are not merged; `timeouts` key by
 * key), in place. A route's `field: false` takes none of that default (nginx's `gzip off;` in a
 * `location`): the field is removed, so the route is checked and built as one that has none.
 * Only `false`: a bare `cors:` (null, a line mis-indented) stays the error it was, where reading
 * it as "none" would drop a route's CORS without a word.
 */
export function applyRouteDefaults(document: unknown): {
  taken: DefaultsTaken;
  idle: IdleOff[];
  /** A route's field written as a would-be off (`cache: off`, `cors: ~`) where a default is there to turn off: refused, with a word on `false`. */
  meantOff: { readonly index: number; readonly field: string }[];
} {
  const taken = new Map<number, string[]>();
  const idle: IdleOff[] = [];
  const meantOff: { index: number; field: string }[] = [];
  if (!isMapping(document)) return { taken, idle, meantOff };
  const defaults = isMapping(document.route_defaults) ? document.route_defaults : undefined;
  for (const [index, route] of itemsOf(document.routes)) {
    const skip =
      route.redirect !== undefined
        ? NOT_ON_REDIRECT
        : route.static !== undefined
          ? FORWARDING_ONLY
          : undefined;
    const fields: string[] = [];
    for (const field of DEFAULTABLE_FIELDS) {
      const given = defaults !== undefined && field in defaults && !skip?.has(field);
      if (route[field] === false) {
        // Removed before any check: the schema, the cross checks and the runtime config see a route without it.
        delete route[field];
        if (given) fields.push(turnedOff(field));
        else idle.push({ index, field, message: idleMessage(field, defaults, route) });
        continue;
      }
      if (!given || defaults === undefined) continue;
      if (field in route && MEANT_OFF.has(route[field])) meantOff.push({ index, field });
      if (field in route) {
        if (field === PER_KEY) fields.push(...takeKeys(route, defaults, field));
        continue;
      }
      route[field] = defaults[field];
      fields.push(field);
    }
    if (fields.length > 0) taken.set(index, fields);
  }
  return { taken, idle, meantOff };
}

/**
 * What an nginx user or a YAML 1.1 habit writes for "off": each stays refused (null above all: a
 * mis-indented `cors:` is no "none"), its problem saying how to write off.
 */
const MEANT_OFF: ReadonlySet<unknown> = new Set([null, true, 'off', 'no', 'none', 'false', 'disabled']);

/** Why a route's `field: false` turns nothing off: no such default, or one this route would not take. */
function idleMessage(
  field: string,
  defaults: Record<string, unknown> | undefined,
  route: Record<string, unknown>,
): string {
  if (defaults === undefined || !(field in defaults))
    return `${field}: false turns off route_defaults.${field}, which this config does not write: it does nothing here`;
  const kind = route.redirect !== undefined ? 'a redirect' : 'a static route';
  return `${kind} takes no route_defaults.${field}: ${field}: false does nothing here`;
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
