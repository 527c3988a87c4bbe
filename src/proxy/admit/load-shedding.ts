import { Failure } from '../../core/failure/failure.ts';
import type { InFlightLimit, Release } from './in-flight-limit.ts';

/** Seconds a shed request is told to wait: load changes fast, and the answer cost nothing. */
const SHED_RETRY_AFTER = 1;

/**
 * Takes a slot in every limit, or none: the first full one sheds the request at once (never
 * queued) with 503 proxy_internal_response.
 */
export function takeSlots(limits: readonly (InFlightLimit | undefined)[]): Release | Failure {
  for (const limit of limits) {
    if (limit?.full) {
      return new Failure(
        'proxy_internal_response',
        `load shed: ${limit.name} already has ${limit.count} requests in flight (max_in_flight ${limit.max})`,
        { retryAfter: SHED_RETRY_AFTER },
      );
    }
  }
  const releases = limits.flatMap((limit) => (limit ? [limit.acquire()] : []));
  return () => {
    for (const release of releases) release();
  };
}
