/**
 * Whether a route answers over plain http to clients that reach it directly: on a plain listener
 * unless it is bound to TLS, a TLS terminator in front is said (trust_forwarded_from, or the
 * listener's proxy_protocol), or a route the router tries first takes every request it would
 * take there (the usual `match: { scheme: http }` redirect to https, beside a route for every
 * scheme). What `candor check` warns of where a route's answer is meant for TLS alone
 * (plain-hsts.ts, oidc-cookie-warning.ts).
 */
import { conditionCount } from './condition-count.ts';
import type { GatewayConfig, ListenerConfig, RouteConfig } from './types.ts';

/** The name of a plain listener on which `route` answers clients that reach it directly, or undefined. */
export function plainListenerOf(config: GatewayConfig, route: RouteConfig): string | undefined {
  if (config.trustForwardedFrom.length > 0) return undefined;
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
