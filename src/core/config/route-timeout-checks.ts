/**
 * A route's `timeouts` lie over its upstream's key by key: what its requests run on is the merged
 * set, so the order an upstream's timeouts must keep (cross-checks.ts: `total` at least
 * `response`) is checked on the merged set of every upstream the route can send to (its
 * `upstream`, its split's sides, its canary), and told at the route's field.
 */
import { DEFAULTS } from './defaults.ts';
import { isMapping, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report, WrittenElsewhere } from './report.ts';
import { formatDuration, parseDuration } from './units.ts';

/** A timeout and where it comes from: the route's own (or its default's), or the upstream's. */
interface Timeout {
  readonly ms: number;
  readonly text: string;
  readonly route: boolean;
}

export function checkRouteTimeouts(
  routes: unknown,
  upstreams: Record<string, unknown> | undefined,
  report: Report,
  elsewhere: WrittenElsewhere,
): void {
  for (const [index, route] of itemsOf(routes)) {
    const own = mappingAt(route, 'timeouts');
    if (own === undefined) continue;
    for (const name of reachedUpstreams(route)) {
      const upstream = upstreams?.[name];
      if (!isMapping(upstream)) continue; // an unknown upstream is told by checkRouteUpstreams
      const theirs = upstream.timeouts === undefined ? {} : mappingAt(upstream, 'timeouts');
      if (theirs === undefined) continue;
      const fallback = DEFAULTS.upstream.timeouts;
      // A key the route took from route_defaults is named there: "the route's" would send the
      // reader to a route that does not write it.
      const whose = (key: string) => elsewhere(['routes', index, 'timeouts', key]) ?? "the route's";
      const total = timeoutOf(own, theirs, 'total', fallback.total, whose('total'));
      const answer = timeoutOf(own, theirs, 'response', fallback.response, whose('response'));
      if (total === undefined || answer === undefined || total.ms >= answer.ms) continue;
      if (!total.route && !answer.route) continue; // the upstream's own: told at the upstream
      // The route's field: total when it wrote total, else the response it wrote.
      const field = total.route ? 'total' : 'response';
      // Told at route_defaults (once: the first route it is wrong for), "this route" would be none
      // the reader can find: the route is named first (before any quote: merged-places.ts then
      // names it as its file writes it), whether the other key is its own or not.
      const atDefault = elsewhere(['routes', index, 'timeouts', field]) !== undefined;
      report(
        ['routes', index, 'timeouts', field],
        `${atDefault ? `for routes[${index}], ` : ''}timeouts.total (${total.text}) must be at least timeouts.response (${answer.text}) for the requests this route sends to upstream '${name}': ` +
          'the whole exchange cannot end before its response head is allowed to arrive',
      );
      break; // once a route: the same words for each of its upstreams would say nothing more
    }
  }
}

/** The upstreams a route's requests can go to: its own, its split's sides, its canary's. */
function reachedUpstreams(route: Record<string, unknown>): Set<string> {
  const names = new Set<string>();
  const upstream = stringAt(route, 'upstream');
  if (upstream !== undefined) names.add(upstream);
  for (const [, side] of itemsOf(route.split)) {
    const name = stringAt(side, 'upstream');
    if (name !== undefined) names.add(name);
  }
  const canary = stringAt(mappingAt(route, 'canary'), 'upstream');
  if (canary !== undefined) names.add(canary);
  return names;
}

/** The route's value of `key`, else the upstream's, else the default; undefined when malformed. */
function timeoutOf(
  own: Record<string, unknown>,
  theirs: Record<string, unknown>,
  key: string,
  fallback: number,
  routes: string,
): Timeout | undefined {
  for (const [mapping, route, whose] of [
    [own, true, routes],
    [theirs, false, "the upstream's"],
  ] as const) {
    const written = mapping[key];
    if (written === undefined) continue;
    const ms = typeof written === 'string' ? parseDuration(written) : undefined;
    return ms === undefined ? undefined : { ms, text: `${written}, ${whose}`, route };
  }
  return { ms: fallback, text: `${formatDuration(fallback)}, the default`, route: false };
}
