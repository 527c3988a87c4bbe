/**
 * What the request path knows of the rate limit store's verdict, apart from the store itself
 * (redis-rates.ts): that module, and ioredis with it, is loaded only by a gateway whose
 * config has a `store`.
 */
import { Failure } from '../../core/failure/failure.ts';

/** What a request gets from the store when Redis did not answer: `store.redis.on_error`. */
export const STORE_DENIED = 'store-denied';
export type RateStoreVerdict = number | typeof STORE_DENIED;

/**
 * The answer to a rate-limited request while the store does not answer and on_error is deny:
 * the gateway's own refusal, not the client's rate (a 429 would say the client sent too much).
 */
export function storeDeniedFailure(): Failure {
  return new Failure(
    'proxy_internal_response',
    'the rate limit store did not answer, and store.redis.on_error is deny',
    { retryAfter: 1 },
  );
}
