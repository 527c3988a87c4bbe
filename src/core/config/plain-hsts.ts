/**
 * Strict-Transport-Security set by a route that answers over plain http: RFC 6797 §7.2 says a
 * server must not send it there (a browser ignores it), and `candor check` warns of it. Where a
 * route answers over plain http is plain-listener.ts's to say.
 */
import { plainListenerOf } from './plain-listener.ts';
import type { GatewayConfig, RouteConfig } from './types.ts';

/** The name of a plain listener on which `route` answers with Strict-Transport-Security, or undefined. */
export function plainHstsListener(config: GatewayConfig, route: RouteConfig): string | undefined {
  const rules = route.responseHeaders;
  if (rules === undefined) return undefined;
  const sets = (rule: { readonly lower: string }) => rule.lower === 'strict-transport-security';
  if (!rules.set.some(sets) && !rules.add.some(sets)) return undefined;
  return plainListenerOf(config, route);
}
