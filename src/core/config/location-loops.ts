/**
 * A redirect to a fixed `location` that comes back to the route itself: the location's scheme
 * and port are those of a listener the route takes requests from, its host the one the route
 * is for, its path under the route's prefix, and no route the router tries first takes it. A
 * client following it meets the same redirect again, until it gives up ("Maximum (50)
 * redirects followed"), as it would with a `scheme`/`port` redirect (listener-checks.ts).
 *
 * Only a certain loop is refused: a route tried before this one that could take the location
 * (with conditions or without) may break it, and a route testing the query is left alone.
 */

import { isMapping, itemsOf, mappingAt } from './raw-access.ts';
import type { Report } from './report.ts';
import { type Claim, hostCovers, prefixCovers, triedBefore } from './route-shadows.ts';

const DEFAULT_PORT: Readonly<Record<string, number>> = { http: 80, https: 443 };

export function checkLocationLoops(routes: unknown, claims: readonly Claim[], report: Report): void {
  const byIndex = new Map(itemsOf(routes));
  for (const claim of claims) {
    const redirect = mappingAt(byIndex.get(claim.index), 'redirect');
    if (!isMapping(redirect) || typeof redirect.location !== 'string' || claim.query.size > 0) continue;
    let url: URL;
    try {
      url = new URL(redirect.location);
    } catch {
      continue; // the schema says what is wrong with it
    }
    const scheme = url.protocol.slice(0, -1);
    const host = url.hostname.toLowerCase().replace(/\.$/, '');
    const path = url.pathname;
    // No port is the scheme's default, which a client behind a port mapping already used to
    // reach the listener (as listener-checks.ts reads a redirect that names only a scheme).
    const port = url.port === '' ? undefined : Number(url.port);
    const looping = claim.listeners.find(
      (listener) =>
        !listener.stated && listener.scheme === scheme && (port === undefined || port === listener.port),
    );
    // Only a route for that very host: whether another host reaches this gateway at all (a route
    // for any host sending "/" to a new domain) the file cannot say.
    if (looping === undefined || claim.host !== host || !prefixCovers(claim.path, path)) continue;
    const takes = (other: Claim) =>
      hostCovers(other.host, host) && prefixCovers(other.path, path) && other.listeners.includes(looping);
    if (claims.some((other) => other !== claim && takes(other) && triedBefore(other, claim))) continue;
    report(
      ['routes', claim.index, 'redirect', 'location'],
      `on listener '${looping.name}' (${looping.scheme}, port ${looping.port}) this redirect sends a request to ${url.href}${port === undefined ? ` (port ${DEFAULT_PORT[scheme]}, or one mapped to ${looping.port})` : ''}, which this route takes again, and a client would follow it forever: point it elsewhere, or add match.scheme, match.listener or a narrower match.path so the route does not take the requests it moves to`,
    );
  }
}
