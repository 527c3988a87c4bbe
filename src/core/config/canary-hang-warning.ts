/**
 * A canary whose requests may wait for their head as long as a step lasts, or longer. An attempt
 * is counted once it is over (canary-window.ts), and one the canary holds with no answer is over
 * when its head clock (`timeouts.response`, or a shorter `retries.per_try_timeout`) ends it: with
 * that clock at `step_interval` or past it, no request of a step that the canary hangs is counted
 * before the step is judged. Its hangs land in the next step's counts, and the last step's in
 * none: a canary hanging one request in five to a 504 was promoted at its only step of 20 %
 * (`steps: [20]`, `step_interval: 3s`, the default 15 s response timeout). Warned, not refused:
 * a long step with a slow API is a fair wish; the fix is the operator's (a shorter head clock on
 * the canary, or a longer step).
 */

import { headClock } from './normalize-route-timeouts.ts';
import type { RouteConfig } from './route-config.ts';
import type { PathSegment } from './schema.ts';
import type { GatewayConfig } from './types.ts';
import { formatDuration } from './units.ts';

/** The warning for route `index`, or undefined when its canary's requests time out within a step. */
export function canaryHangsPastStep(
  config: GatewayConfig,
  route: RouteConfig,
  index: number,
): { readonly path: readonly PathSegment[]; readonly message: string } | undefined {
  const canary = route.canary;
  const upstream = canary === undefined ? undefined : config.upstreams[canary.upstream];
  if (canary === undefined || upstream === undefined) return undefined;
  const clock =
    route.timeouts?.[canary.upstream]?.exchange ??
    headClock(upstream.retries.perTryTimeout, upstream.timeouts.response);
  if (clock.head < canary.stepInterval) return undefined;
  return {
    path: ['routes', index, 'canary', 'step_interval'],
    message: `${formatDuration(canary.stepInterval)} is no longer than the ${clock.headName} of the canary's requests (${formatDuration(clock.head)}, upstream ${canary.upstream}): a request the canary holds with no answer is counted when that ends it, after its step was judged, so a canary that hangs its requests is judged on those it answered (the last step's hangs on none) and may be promoted; give the canary's upstream (or the route) a timeouts.response below step_interval, or a longer step_interval`,
  };
}
