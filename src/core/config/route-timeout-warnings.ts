/**
 * A route's timeouts that make one of its upstream's settings do nothing for that route's
 * requests, though the upstream's own timeouts let it act (warnings.ts tells the upstream's
 * own): told at the route's field, as the upstream's warning is at the upstream's.
 */
import type { PathSegment } from './schema.ts';
import type { GatewayConfig, RouteConfig } from './types.ts';
import { formatDuration } from './units.ts';

export function routeTimeoutWarnings(
  config: GatewayConfig,
): { readonly path: readonly PathSegment[]; readonly message: string }[] {
  const warnings: { path: PathSegment[]; message: string }[] = [];
  for (const [index, route] of config.routes.entries()) {
    if (route.timeouts === undefined) continue;
    for (const name of reachedUpstreams(route)) {
      const upstream = config.upstreams[name];
      const merged = route.timeouts[name];
      if (upstream === undefined || merged === undefined) continue;
      const { perTryTimeout } = upstream.retries;
      // One equal to the upstream's response is its default (not written): the route's response is its per-try.
      const perTryWritten = perTryTimeout !== upstream.timeouts.response;
      if (perTryWritten && perTryTimeout <= upstream.timeouts.response && perTryTimeout > merged.response)
        warnings.push({
          path: ['routes', index, 'timeouts', 'response'],
          message: `${formatDuration(merged.response)} is below upstream '${name}'s retries.per_try_timeout (${formatDuration(perTryTimeout)}): each of this route's attempts waits for its head at most this long, so the per-try timeout never passes for them`,
        });
      const hold = upstream.hold?.timeout;
      if (hold !== undefined && hold < upstream.timeouts.total && hold >= merged.total)
        warnings.push({
          path: ['routes', index, 'timeouts', 'total'],
          message: `${formatDuration(merged.total)} is not above upstream '${name}'s hold.timeout (${formatDuration(hold)}): a request of this route held there is answered 503 when its total timeout passes, so it never waits the hold's time`,
        });
    }
  }
  return warnings;
}

/** The upstreams a route's requests can go to: its own, its split's sides, its canary's. */
function reachedUpstreams(route: RouteConfig): Set<string> {
  const names = new Set<string>();
  if (route.upstream !== undefined) names.add(route.upstream);
  for (const side of route.split ?? []) names.add(side.upstream);
  if (route.canary !== undefined) names.add(route.canary.upstream);
  return names;
}
