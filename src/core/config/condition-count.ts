import type { RouteConditions } from './route-config.ts';

/**
 * How many things a route tests beyond host and path: among routes of the same host and path
 * prefix, the router tries the one testing more first (proxy/route/router.ts), and `candor
 * check` reads the routes in that order.
 */
export function conditionCount(conditions: RouteConditions | undefined): number {
  if (conditions === undefined) return 0;
  const { listeners, scheme, methods } = conditions;
  const kinds = [listeners, scheme, methods].filter((tested) => tested !== undefined).length;
  return kinds + conditions.headers.length + conditions.query.length;
}
