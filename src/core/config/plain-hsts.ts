/**
 * Strict-Transport-Security set by a route that answers over plain http: RFC 6797 §7.2 says a
 * server must not send it there (a browser ignores it), and `candor check` warns of it. A route
 * answers on a plain listener that clients reach directly unless it is bound to TLS, a TLS
 * terminator in front is said (trust_forwarded_from, or the listener's proxy_protocol), or a
 * route the router tries first takes every request it would take there: the usual
 * `match: { scheme: http }` redirect to https, beside a route for every scheme that sets it.
 */
import { conditionCount } from './condition-count.ts';
import type { GatewayConfig, ListenerConfig, RouteConfig } from './types.ts';

/** The name of a plain listener on which `route` answers with Strict-Transport-Security, or undefined. */
export function plainHstsListener(config: GatewayConfig, route: RouteConfig): string | undefined {
  const rules = route.responseHeaders;
  if (rules === undefined || config.trustForwardedFrom.length > 0) return undefined;
  const sets = (rule: { readonly lower: string }) => rule.lower === 'strict-transport-security';
  if (!rules.set.some(sets) && !rules.add.some(sets)) return undefined;
  const { listeners, scheme } = route.conditions ?? {};
  if (scheme === 'https') return undefined;
  const plain = config.listen.find(
    (listener) =>
      listener.tls === undefined &&
      listener.proxyProtocol === undefined &&
      (listeners === undefined || listeners.includes(listener.name)) &&
      !config.routes.some((first) => takesFirst(first, route, listener)),
  );
  return plain?.name;
}

/**
 * Whether `first` takes, on `listener`, every request `route` would: the router tries it before
 * (same host and path prefix, more conditions, or as many and earlier in the file), and nothing
 * it tests leaves out one of those requests there. Conservative: a route testing headers or
 * the query is taken to leave some out.
 */
function takesFirst(first: RouteConfig, route: RouteConfig, listener: ListenerConfig): boolean {
  if (first === route || first.host !== route.host || first.path !== route.path) return false;
  const count = conditionCount(first.conditions);
  const own = conditionCount(route.conditions);
  if (count < own || (count === own && first.index > route.index)) return false;
  const tests = first.conditions;
  if (tests === undefined) return true;
  const methods = route.conditions?.methods;
  return (
    (tests.listeners === undefined || tests.listeners.includes(listener.name)) &&
    tests.scheme !== 'https' &&
    (tests.methods === undefined || methods?.every((m) => tests.methods?.includes(m)) === true) &&
    tests.headers.length === 0 &&
    tests.query.length === 0
  );
}
