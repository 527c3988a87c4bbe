/**
 * A route that reaches an upstream another route tells the signed-in user in a field
 * (`auth.identity_header`), without taking the client's own copy of that field out. The gateway
 * removes a client's `X-User` only on the routes whose auth writes it, so a sibling route to the
 * same app (one without auth: its health page, its public assets, a webhook) passes a forged
 * `X-User: admin` straight through, and an app that trusts the field (it was told the gateway
 * always writes it) takes the forger for a signed-in admin. Warned, not refused: the upstream may
 * read the field on the authenticated paths only.
 */
import type { RouteConfig } from './route-config.ts';
import type { PathSegment } from './schema.ts';

/** A field's name as the gateway's removal compares it: case-insensitive, `_` read as `-` (CGI-style apps read both alike). */
const spelling = (name: string) => name.toLowerCase().replaceAll('_', '-');

/** The upstreams a route's requests may go to (its own, its split's sides, its canary), each with the field that names it. */
function reached(route: RouteConfig): { readonly upstream: string; readonly path: readonly PathSegment[] }[] {
  if (route.split !== undefined)
    return route.split.map((side, at) => ({ upstream: side.upstream, path: ['split', at, 'upstream'] }));
  const all: { upstream: string; path: readonly PathSegment[] }[] = [];
  if (route.upstream !== undefined) all.push({ upstream: route.upstream, path: ['upstream'] });
  if (route.canary !== undefined) all.push({ upstream: route.canary.upstream, path: ['canary', 'upstream'] });
  return all;
}

/** Whether the route takes the client's copy of `field` (spelled as `spelling` makes it) out of what it sends upstream. */
function strips(route: RouteConfig, field: string): boolean {
  const identity = route.access?.auth?.identityHeader;
  if (identity !== undefined && spelling(identity) === field) return true;
  const rules = route.requestHeaders;
  if (rules === undefined) return false;
  return (
    rules.remove.some((name) => spelling(name) === field) ||
    rules.set.some((rule) => spelling(rule.lower) === field)
  );
}

/** The warnings of every route that lets a client's copy of another route's identity field reach that route's upstream. */
export function forgeableIdentityHeaders(
  routes: readonly RouteConfig[],
): { readonly path: readonly PathSegment[]; readonly message: string }[] {
  // Each upstream's identity fields, with the first route that writes each.
  const told = new Map<string, Map<string, number>>();
  for (const [index, route] of routes.entries()) {
    const identity = route.access?.auth?.identityHeader;
    if (identity === undefined) continue;
    for (const { upstream } of reached(route)) {
      const fields = told.get(upstream) ?? new Map<string, number>();
      if (!fields.has(spelling(identity))) fields.set(spelling(identity), index);
      told.set(upstream, fields);
    }
  }
  const warnings: { path: readonly PathSegment[]; message: string }[] = [];
  for (const [index, route] of routes.entries())
    for (const { upstream, path } of reached(route))
      for (const [field, by] of told.get(upstream) ?? [])
        if (!strips(route, field)) {
          const writer = routes[by];
          const which =
            route.access?.auth === undefined ? 'has no auth' : `has auth that does not write ${field}`;
          warnings.push({
            path: ['routes', index, ...path],
            message: `upstream '${upstream}' is told the signed-in user in ${field} by routes[${by}] ("${writer.name}"), and this route to it ${which}: a client's own ${field} goes through as sent, so an app that trusts the field takes a forged "${field}: admin" for a signed-in user; take it out here (request_headers: { remove: [${field}] }, or in route_defaults for every route that writes no request_headers), or give this route auth with identity_header: ${field}`,
          });
        }
  return warnings;
}
