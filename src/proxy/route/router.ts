import { conditionCount } from '../../core/config/condition-count.ts';
import type { RouteConfig } from '../../core/config/types.ts';
import { type ConditionTest, compileConditions, type RouteRequest, testedHeaders } from './conditions.ts';

export type { RouteRequest } from './conditions.ts';

/**
 * Picks the route for a host, path and (for routes that test them) listener, scheme, method,
 * headers and query.
 * Built once per config: routes are grouped by host (exact, then wildcard, then any-host) and
 * within a group tried longest prefix first, then the route testing more conditions first,
 * then in file order, so the most specific route wins whatever order the file lists them in.
 * A CORS preflight is the route's to answer that would take the request it asks about (its
 * Access-Control-Request-Method for its method) when that route has CORS rules: they say
 * whether the browser may send it, wherever a route for OPTIONS stands in the file. Otherwise
 * (no such route, or one without CORS rules) the preflight is routed as the OPTIONS it is.
 */
export interface Router {
  /** `req` is read only for routes with conditions (absent: no listener, scheme, method or headers). */
  match(host: string, path: string, req?: RouteRequest): RouteConfig | undefined;
  /** Some route tests the query (`match.query`): a repeated parameter may then route two ways. */
  readonly readsQuery: boolean;
  /** The header fields some route tests (`match.headers`, but `cookie`): a repeated one may route two ways. */
  readonly testedHeaders: readonly string[];
  /** Some route tests the method (`match.methods`): a method-override field may then route two ways. */
  readonly readsMethod: boolean;
}

/** A route as the router tries it: its conditions compiled (absent for a route that has none). */
interface Entry {
  readonly route: RouteConfig;
  readonly prefix: string;
  readonly test: ConditionTest | undefined;
  readonly count: number;
}

const NO_REQUEST: RouteRequest = Object.freeze({ headers: Object.freeze({}) });

export function createRouter(routes: readonly RouteConfig[]): Router {
  const exact = new Map<string, Entry[]>();
  const wildcard: { suffix: string; entries: Entry[] }[] = [];
  const anyHost: Entry[] = [];
  for (const route of routes) {
    const entry: Entry = {
      route,
      prefix: route.path,
      test: route.conditions === undefined ? undefined : compileConditions(route.conditions),
      count: conditionCount(route.conditions),
    };
    if (route.host === undefined) anyHost.push(entry);
    else if (route.host.startsWith('*.')) {
      const suffix = route.host.slice(1);
      let group = wildcard.find((g) => g.suffix === suffix);
      if (!group) {
        group = { suffix, entries: [] };
        wildcard.push(group);
      }
      group.entries.push(entry);
    } else {
      const list = exact.get(route.host) ?? [];
      list.push(entry);
      exact.set(route.host, list);
    }
  }
  const exactLists = new Map([...exact].map(([host, entries]) => [host, new RouteList(entries)]));
  // Longer suffixes first: "*.eu.example.com" beats "*.example.com".
  wildcard.sort((a, b) => b.suffix.length - a.suffix.length);
  const wildcardLists = wildcard.map((group) => ({
    suffix: group.suffix,
    list: new RouteList(group.entries),
  }));
  const anyHostList = new RouteList(anyHost);

  return {
    readsQuery: routes.some((route) => (route.conditions?.query.length ?? 0) > 0),
    testedHeaders: testedHeaders(routes),
    readsMethod: routes.some((route) => route.conditions?.methods !== undefined),
    // Runs on every request: no allocation for routes without conditions (a preflight makes
    // one: the request it asks about); exact host first, then wildcards, then any host.
    match(host, path, req = NO_REQUEST) {
      const asked = preflightMethod(req);
      if (asked !== undefined) {
        const governing = first(host, path, { ...req, method: asked });
        if (governing?.access?.cors !== undefined) return governing;
      }
      return first(host, path, req);
    },
  };

  function first(host: string, path: string, req: RouteRequest): RouteConfig | undefined {
    const route = exactLists.get(host)?.first(path, req);
    if (route) return route;
    for (const group of wildcardLists) {
      if (!host.endsWith(group.suffix)) continue;
      const matched = group.list.first(path, req);
      if (matched) return matched;
    }
    return anyHostList.first(path, req);
  }
}

/** Past this many routes of one host, the routes whose prefix a path has are found by prefix, not tried one by one. */
const SCAN_MAX = 16;

/**
 * One host's routes (or a wildcard's, or any host's), most specific first: the longest prefix,
 * then the route testing more conditions, then file order. A few are tried one by one, which
 * costs a request no allocation; many are found by prefix, each of the path's own prefixes
 * (`/a/b/c`, `/a/b`, `/a`, `/`) looked up longest first: tried one by one, 8,000 routes of one
 * API host cost a request 0.1 to 0.5 ms, and a request for a path no route has the most.
 */
class RouteList {
  private readonly entries: readonly Entry[];
  /** The routes by their prefix, each prefix's most specific first; only past SCAN_MAX routes. */
  private readonly byPrefix: ReadonlyMap<string, readonly Entry[]> | undefined;

  constructor(entries: Entry[]) {
    entries.sort(
      (a, b) => b.prefix.length - a.prefix.length || b.count - a.count || a.route.index - b.route.index,
    );
    this.entries = entries;
    if (entries.length <= SCAN_MAX) return;
    const byPrefix = new Map<string, Entry[]>();
    for (const entry of entries) {
      const same = byPrefix.get(entry.prefix);
      if (same === undefined) byPrefix.set(entry.prefix, [entry]);
      else same.push(entry);
    }
    this.byPrefix = byPrefix;
  }

  first(path: string, req: RouteRequest): RouteConfig | undefined {
    // (Small, so that the runtime inlines it where a few routes are tried one by one.)
    const byPrefix = this.byPrefix;
    return byPrefix === undefined ? firstMatch(this.entries, path, req) : byPrefixFirst(byPrefix, path, req);
  }
}

/** The first route of `byPrefix` for `path` and `req`: the path's own prefixes looked up, longest first. */
function byPrefixFirst(
  byPrefix: ReadonlyMap<string, readonly Entry[]>,
  path: string,
  req: RouteRequest,
): RouteConfig | undefined {
  // A route's prefix holds no `?` (config: match.path): it is the path up to its query, or
  // that cut before one of its `/` (matchesPrefix's rule).
  const query = path.indexOf('?');
  const end = query === -1 ? path.length : query;
  let root = false;
  for (let cut = end; cut > 0; cut = path.lastIndexOf('/', cut - 1)) {
    const prefix = cut === path.length ? path : path.slice(0, cut);
    if (prefix === '/') root = true;
    const route = firstPassing(byPrefix.get(prefix), path, req);
    if (route) return route;
  }
  // `/` takes every path, one not beginning with `/` too (`*`).
  return root ? undefined : firstPassing(byPrefix.get('/'), path, req);
}

/** The first of routes of one matching prefix whose conditions `req` meets. */
function firstPassing(
  entries: readonly Entry[] | undefined,
  path: string,
  req: RouteRequest,
): RouteConfig | undefined {
  if (entries === undefined) return undefined;
  for (const entry of entries) if (entry.test === undefined || entry.test(req, path)) return entry.route;
  return undefined;
}

/** The method a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) asks about. */
function preflightMethod(req: RouteRequest): string | undefined {
  if (req.method !== 'OPTIONS' || req.headers.origin === undefined) return undefined;
  const asked = req.headers['access-control-request-method'];
  return typeof asked === 'string' ? asked : undefined;
}

function firstMatch(entries: readonly Entry[], path: string, req: RouteRequest): RouteConfig | undefined {
  for (const entry of entries) {
    if (matchesPrefix(entry.prefix, path) && (entry.test === undefined || entry.test(req, path)))
      return entry.route;
  }
  return undefined;
}

/** "/v1" matches "/v1", "/v1/…" and "/v1?…", never "/v10". */
export function matchesPrefix(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 0x2f /* / */ || next === 0x3f /* ? */;
}

/** The path the upstream sees when the route strips its prefix: "/v1/users?x" → "/users?x". */
export function stripPrefix(prefix: string, path: string): string {
  if (prefix === '/') return path;
  const rest = path.slice(prefix.length);
  return rest.length === 0 || rest.charCodeAt(0) === 0x3f ? '/' + rest : rest;
}
