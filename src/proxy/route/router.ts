import type { RouteConfig } from '../../core/config/types.ts';

/**
 * Picks the route for a host and path. Built once per config: routes are grouped by host
 * (exact, then wildcard, then any-host) and within a group tried longest prefix first, so
 * the most specific route wins whatever order the file lists them in.
 */
export interface Router {
  match(host: string, path: string): RouteConfig | undefined;
}

export function createRouter(routes: readonly RouteConfig[]): Router {
  const exact = new Map<string, RouteConfig[]>();
  const wildcard: { suffix: string; routes: RouteConfig[] }[] = [];
  const anyHost: RouteConfig[] = [];
  for (const route of routes) {
    if (route.host === undefined) anyHost.push(route);
    else if (route.host.startsWith('*.')) {
      const suffix = route.host.slice(1);
      let group = wildcard.find((g) => g.suffix === suffix);
      if (!group) {
        group = { suffix, routes: [] };
        wildcard.push(group);
      }
      group.routes.push(route);
    } else {
      const list = exact.get(route.host) ?? [];
      list.push(route);
      exact.set(route.host, list);
    }
  }
  const byLongestPrefix = (a: RouteConfig, b: RouteConfig) =>
    b.path.length - a.path.length || a.index - b.index;
  for (const list of exact.values()) list.sort(byLongestPrefix);
  for (const group of wildcard) group.routes.sort(byLongestPrefix);
  // Longer suffixes first: "*.eu.example.com" beats "*.example.com".
  wildcard.sort((a, b) => b.suffix.length - a.suffix.length);
  anyHost.sort(byLongestPrefix);

  return {
    // Runs on every request: no allocation, exact host first, then wildcards, then any host.
    match(host, path) {
      const exactRoutes = exact.get(host);
      const route = exactRoutes && firstPrefixMatch(exactRoutes, path);
      if (route) return route;
      for (const group of wildcard) {
        if (!host.endsWith(group.suffix)) continue;
        const matched = firstPrefixMatch(group.routes, path);
        if (matched) return matched;
      }
      return firstPrefixMatch(anyHost, path);
    },
  };
}

function firstPrefixMatch(routes: readonly RouteConfig[], path: string): RouteConfig | undefined {
  for (const route of routes) if (matchesPrefix(route.path, path)) return route;
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
