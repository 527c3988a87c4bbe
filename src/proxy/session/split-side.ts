import type { RouteConfig } from '../../core/config/types.ts';
import { clientBlock } from '../../core/net/client-block.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';
import { fieldsAfterAccess } from '../admit/fields-after-access.ts';
import type { DrawnSide, RouteSplit } from '../route/split.ts';
import { hashKeyOf } from '../select/hash-key.ts';
import { hasUntriedTarget, NONE_TRIED } from '../select/select-target.ts';
import type { SessionRequest } from './session-request.ts';

/**
 * For a route with a split or a canary, the side its split draws for this request (placed by
 * its hash key when the split has one, so one user stays on one side; its client the one the IP
 * lists judge, behind trusted proxies the one they vouch for, an IPv6 one by its /64 as rate
 * limits and per_client count it, client-block.ts: a host picks its own addresses in its block,
 * and each would be another user to the canary's counts; drawn past the access stages, admit-request.ts,
 * on the fields as access left them; a cache's background refresh goes to the side whose stored
 * answer it refreshes, `refreshSide`): one the split made once,
 * nothing made per request; undefined for any other route, which goes to its one upstream. The
 * loader made sure every name is an upstream that exists.
 */
export function chooseSide(
  gateway: { readonly splits: ReadonlyMap<string, RouteSplit>; readonly trust: TrustList },
  route: RouteConfig,
  fields: FieldMap,
  clientAddress: string,
  refreshSide?: string,
): DrawnSide | undefined {
  const split = splitOf(gateway.splits, route);
  if (split === undefined) return undefined;
  if (refreshSide !== undefined) return split.named(refreshSide) ?? split.draw(undefined);
  const key =
    split.hashKey === undefined
      ? undefined
      : hashKeyOf(split.hashKey, { headers: fields }, clientAddress, gateway.trust, clientBlock);
  return split.draw(key);
}

/** The route's split (or canary), as the loader made it once; undefined for a route with neither. */
function splitOf(splits: ReadonlyMap<string, RouteSplit>, route: RouteConfig): RouteSplit | undefined {
  return route.split === undefined && route.canary === undefined ? undefined : splits.get(route.name);
}

/**
 * What the admit phase draws a side with (admit-request.ts's DrawSide): chooseSide, or for a
 * cache's background refresh, chooseSide toward the side it refreshes (a closure for those only).
 */
export function sideDrawer(exchange: {
  readonly refreshSide?: string;
}): (
  gateway: { readonly splits: ReadonlyMap<string, RouteSplit>; readonly trust: TrustList },
  route: RouteConfig,
  fields: FieldMap,
  clientAddress: string,
) => DrawnSide | undefined {
  const side = exchange.refreshSide;
  return side === undefined
    ? chooseSide
    : (gateway, route, fields, clientAddress) => chooseSide(gateway, route, fields, clientAddress, side);
}

/**
 * Where a request of a split route that no target of its side (`from`) took goes rather than
 * wait in that side's `hold`: the first with a target in rotation now (as the upstream of now: a
 * reload's) of the side the split draws for it now (after a rollback, the baseline) and then the
 * other sides it still sends requests to. `refused`: `from` just failed it, so it is not asked.
 * Undefined: it waits where it is (not a split route; `from` is that first side; none can take it).
 * Drawn on the fields as access left them (`edit`, the admitted request's requestEdit), as the
 * first draw was: a `hash_key: header:X-User-Id` is the user the auth service named, so a client
 * that forges its own copy cannot pick the side it wakes on.
 */
export function sideAway(
  runtime: {
    splits: ReadonlyMap<string, RouteSplit>;
    upstreams: ReadonlyMap<string, Upstream>;
    trust: TrustList;
  },
  route: RouteConfig,
  req: SessionRequest,
  edit: AnswerEdit | undefined,
  from: Upstream,
  refused: boolean,
): Upstream | undefined {
  const split = splitOf(runtime.splits, route);
  if (split === undefined) return undefined;
  const { record, exchange } = req;
  const keyed = split.hashKey !== undefined && split.hashKey.kind !== 'client';
  const fields = keyed ? fieldsAfterAccess(req.head.headers, req.fields, edit) : req.fields;
  const drawn = chooseSide(runtime, route, fields, record.clientAddress, exchange.refreshSide) as DrawnSide;
  const names = [drawn.upstream];
  for (const side of split.sides) if (side.weight > 0) names.push(side.upstream);
  const now = performance.now();
  for (const name of names) {
    if (refused && name === from.name) continue;
    const found = runtime.upstreams.get(name);
    const upstream = found?.hold.owner ?? found;
    if (upstream !== undefined && hasUntriedTarget(upstream, now, NONE_TRIED))
      return name === from.name ? undefined : upstream;
  }
  return undefined;
}

/**
 * The other sides a request of a split route waiting in `from`'s hold could go to when one of
 * their targets comes back (weight above 0), as the upstreams of now; none for another route.
 */
export function otherSides(
  runtime: { splits: ReadonlyMap<string, RouteSplit>; upstreams: ReadonlyMap<string, Upstream> },
  route: RouteConfig,
  from: Upstream,
): Upstream[] {
  const split = splitOf(runtime.splits, route);
  const out: Upstream[] = [];
  for (const side of split?.sides ?? []) {
    const found =
      side.weight > 0 && side.upstream !== from.name ? runtime.upstreams.get(side.upstream) : undefined;
    const upstream = found?.hold.owner ?? found;
    if (upstream !== undefined) out.push(upstream);
  }
  return out;
}
