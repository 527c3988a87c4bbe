import { Failure } from '../../core/failure/failure.ts';
import { noRelease } from '../../core/limits/count.ts';
import type { InFlightLimit, Release } from './in-flight-limit.ts';

/** Seconds a shed request is told to wait: load changes fast, and the answer cost nothing. */
const SHED_RETRY_AFTER = 1;

/**
 * Takes a slot in the listener's limit and the route's (either may be absent), or none: the
 * first full one sheds the request at once (never queued) with 503 proxy_internal_response.
 * Without either limit (the default) nothing is made: the release is the shared no-op.
 */
export function takeSlots(
  listener: InFlightLimit | undefined,
  route: InFlightLimit | undefined,
): Release | Failure {
  if (listener?.full) return shed(listener);
  if (route?.full) return shed(route);
  const first = listener?.acquire();
  const second = route?.acquire();
  if (first === undefined) return second ?? noRelease;
  if (second === undefined) return first;
  return bothReleased(first, second);
}

/**
 * Two slots given back as one. Made in a function apart: a closure in its caller's body made
 * every call allocate the context it captures, whether it was made or not.
 */
export function bothReleased(first: Release, second: Release): Release {
  return () => {
    first();
    second();
  };
}

function shed(limit: InFlightLimit): Failure {
  const count = `${limit.count} ${limit.count === 1 ? 'request' : 'requests'} in flight`;
  return new Failure(
    'proxy_internal_response',
    limit.of === undefined
      ? `load shed: ${limit.name} already has ${count} (max_in_flight ${limit.max})`
      : `load shed: ${limit.name} already has ${count} in this worker, whose share of max_in_flight ${limit.of} is ${limit.max}`,
    { retryAfter: SHED_RETRY_AFTER },
  );
}
