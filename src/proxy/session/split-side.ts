import type { RouteConfig } from '../../core/config/types.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { CanaryWindow } from '../../upstream/canary/canary-window.ts';
import type { RouteSplit } from '../route/split.ts';
import { hashKeyOf } from '../select/hash-key.ts';

/** The upstream a routed request goes to, and the canary's counts it adds to (when the route has a canary). */
export interface Side {
  readonly upstream: string;
  readonly window?: CanaryWindow;
}

/**
 * For a route with a split or a canary, the side its split draws for this request (placed by
 * its hash key when the split has one, so one user stays on one side; its client the one the IP
 * lists judge, behind trusted proxies the one they vouch for; drawn past access, admit-request.ts,
 * on the fields as access left them): one the split made once,
 * nothing made per request; undefined for any other route, which goes to its one upstream. The
 * loader made sure every name is an upstream that exists.
 */
export function chooseSide(
  gateway: { readonly splits: ReadonlyMap<string, RouteSplit>; readonly trust: TrustList },
  route: RouteConfig,
  fields: FieldMap,
  clientAddress: string,
): Side | undefined {
  const split =
    route.split === undefined && route.canary === undefined ? undefined : gateway.splits.get(route.name);
  if (split === undefined) return undefined;
  const key =
    split.hashKey === undefined
      ? undefined
      : hashKeyOf(split.hashKey, { headers: fields }, clientAddress, gateway.trust);
  return split.draw(key);
}
