import type { Upstream } from '../../upstream/targets/upstream.ts';
import { hasUntriedTarget, NONE_TRIED } from '../select/select-target.ts';

/**
 * Where a request that no target of its upstream (`from`) took goes rather than wait in that
 * upstream's `hold` (request-hold.ts): the first of `names` with a target in rotation now, as the
 * upstream of now (a reload's). `names` are what the stage that chose the request's upstream says
 * it may go to now (stage.ts's upstreamsNow: a split's side drawn for it now, after a rollback the
 * baseline, then the other sides it still sends requests to). `refused`: `from` just failed it, so
 * it is not asked. Undefined: it waits where it is (no stage chose; `from` is that first; none can
 * take it).
 */
export function upstreamAway(
  upstreams: ReadonlyMap<string, Upstream>,
  names: readonly string[] | undefined,
  from: Upstream,
  refused: boolean,
): Upstream | undefined {
  if (names === undefined) return undefined;
  const now = performance.now();
  for (const name of names) {
    if (refused && name === from.name) continue;
    const found = upstreams.get(name);
    const upstream = found?.hold.owner ?? found;
    if (upstream !== undefined && hasUntriedTarget(upstream, now, NONE_TRIED))
      return name === from.name ? undefined : upstream;
  }
  return undefined;
}

/**
 * The other upstreams a request waiting in `from`'s hold could go to when one of their targets
 * comes back (`names`: the stage's, as for upstreamAway), as the upstreams of now; none when no
 * stage chose its upstream.
 */
export function otherUpstreams(
  upstreams: ReadonlyMap<string, Upstream>,
  names: readonly string[] | undefined,
  from: Upstream,
): Upstream[] {
  const out: Upstream[] = [];
  for (const name of names ?? []) {
    const found = name === from.name ? undefined : upstreams.get(name);
    const upstream = found?.hold.owner ?? found;
    if (upstream !== undefined) out.push(upstream);
  }
  return out;
}
